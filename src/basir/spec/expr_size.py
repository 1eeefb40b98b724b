"""Sizes of values an expression is about to produce, known before the value is built.

Budgets are enforced while a value is built, never after: `join(range(2000), big)` must fail
before it allocates gigabytes, not once the string exists.  So every function that makes
text out of other values (`to_json`, `join`, `format`, `+`, substitution into a string)
first measures what it would make with `text_length`, which walks the value iteratively,
stops as soon as the total passes the limit, and charges the step budget for what it reads.
The same walk bounds how deeply a produced value may nest (`MAX_VALUE_DEPTH`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from basir.i18n import _
from basir.spec.expr_syntax import ExpressionError
from basir.spec.expr_values import MAX_ITEMS, MAX_STRING_CHARS, Budget, format_number, is_number

MAX_VALUE_DEPTH = 64  # as deep as a JSON request body or a spec may nest
_ITEMS_PER_STEP = 16  # items walked in one step, as for the functions that loop in C
_CHARS_PER_STEP = 1024
_CHUNK = 512
_NUMBERS = frozenset({int, float, bool, type(None)})


def too_long() -> ExpressionError:
    """The `expr.too_large` error of a text over `MAX_STRING_CHARS`."""
    return ExpressionError(
        "expr.too_large", _("text too long (over {limit} characters)", limit=MAX_STRING_CHARS)
    )


def too_deep() -> ExpressionError:
    """The `expr.too_complex` error of a value nested deeper than `MAX_VALUE_DEPTH`."""
    return ExpressionError(
        "expr.too_complex", _("value nested too deeply (over {n} levels)", n=MAX_VALUE_DEPTH)
    )


def _json_string_length(text: str) -> int:
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return len(text) + 2
    return len(json.dumps(text, ensure_ascii=False))  # escapes: at most 6 × a bounded text


def _scalar_length(value: Any, quoted: bool) -> int:
    if value is None:
        return 4 if quoted else 0
    if isinstance(value, bool):
        return 4 if value else 5
    if is_number(value):
        return len(repr(value) if quoted else format_number(value))  # JSON: 1.0 stays 1.0
    if isinstance(value, str):
        return _json_string_length(value) if quoted else len(value)
    return 0  # not JSON: to_json reports it


def text_length(
    value: Any, budget: Budget, limit: int = MAX_STRING_CHARS, *, quoted: bool = False
) -> int:
    """The length of `to_str(value)` (of `to_json(value)` with `quoted`), at most `limit`.

    Raises `expr.too_large` as soon as the length passes `limit`, `expr.too_complex` when
    the value nests deeper than `MAX_VALUE_DEPTH`; never builds the text.
    """
    if not isinstance(value, list | tuple | Mapping):
        size = _scalar_length(value, quoted)
        if size > limit:
            raise too_long()
        return size
    total = 0
    # Each entry: the children of one container, the next position, its depth (memory: O(depth)).
    stack: list[list[Any]] = [[(value,), 0, 0]]
    while stack:
        entry = stack[-1]
        children, pos, depth = entry
        if pos >= len(children):
            stack.pop()
            continue
        chunk = children[pos : pos + _CHUNK]
        if len(chunk) > 1 and all(type(item) in _NUMBERS for item in chunk):
            # Numbers, booleans, nulls: measured by the C encoder, a chunk at a time.
            total += len(json.dumps(chunk, separators=(",", ":"))) - 1 - len(chunk)
            budget.tick(len(chunk) // _ITEMS_PER_STEP)
            entry[1] = pos + len(chunk)
        else:
            entry[1] = pos + 1
            total += _item_length(children[pos], depth, stack, budget)
        if total > limit:
            raise too_long()
    return total


def _item_length(item: Any, depth: int, stack: list[list[Any]], budget: Budget) -> int:
    """The length of one item's own text; a non-empty container is pushed to be walked."""
    budget.tick(0 if depth else 1)
    if isinstance(item, list | tuple | Mapping):
        if item:
            if depth + 1 >= MAX_VALUE_DEPTH:
                raise too_deep()
            children = tuple(item.values()) if isinstance(item, Mapping) else item
            stack.append([children, 0, depth + 1])
        return _container_length(item)
    size = _scalar_length(item, True)
    budget.tick(1 + size // _CHARS_PER_STEP)
    return size


def _container_length(item: list[Any] | tuple[Any, ...] | Mapping[Any, Any]) -> int:
    """Brackets and commas of a list; braces, commas, colons and keys of an object."""
    total = 2 + max(len(item) - 1, 0)
    if isinstance(item, Mapping):
        total += len(item) + sum(_json_string_length(str(key)) for key in item)
    return total


def check_items(count: int) -> int:
    """`count` when a list of that many items may be built; `expr.too_large` else."""
    if count > MAX_ITEMS:
        raise ExpressionError("expr.too_large", _("too many items (over {limit})", limit=MAX_ITEMS))
    return count


def check_total(total: int, limit: int = MAX_STRING_CHARS) -> int:
    """`total` when within `limit`; `expr.too_large` else (for running sums of pieces)."""
    if total > limit:
        raise too_long()
    return total
