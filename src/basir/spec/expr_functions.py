"""The whitelist of functions callable from `${{ … }}`; nothing else can be called.

Each function takes evaluated arguments and the step `Budget`, charges work proportional to
its input (one step per item handled in Python, one per 16 items handled in C, such as
`join` or `sum`), and bounds what it produces.  `hash_files` reads files only under the budget's
`files_root` (the task's working directory), and is unavailable when there is none.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from basir.i18n import _
from basir.spec.expr_size import MAX_VALUE_DEPTH, check_total, text_length, too_deep
from basir.spec.expr_syntax import ExpressionError
from basir.spec.expr_values import (
    MAX_ITEMS,
    MAX_STRING_CHARS,
    Budget,
    as_list,
    as_text,
    check_number,
    check_size,
    is_list,
    is_number,
    json_equal,
    to_json,
    to_str,
    truthy,
    type_error,
    type_name,
)

MAX_HASH_FILES = 10_000
_HASH_CHUNK_BYTES = 1 << 20

Function = Callable[[list[Any], Budget], Any]


def _len(args: list[Any], budget: Budget) -> int:
    value = args[0]
    if isinstance(value, str | list | tuple | Mapping):
        return len(value)
    raise type_error(_("len needs text, a list or an object, got {kind}", kind=type_name(value)))


def _contains(args: list[Any], budget: Budget) -> bool:
    haystack, needle = args
    if isinstance(haystack, str):
        budget.tick(len(haystack) // 1024)
        return isinstance(needle, str) and needle in haystack
    if is_list(haystack):
        return any(json_equal(item, needle, budget) for item in haystack)
    if isinstance(haystack, Mapping):
        return isinstance(needle, str) and needle in haystack
    if haystack is None:
        return False
    raise type_error(
        _("contains needs text, a list or an object, got {kind}", kind=type_name(haystack))
    )


def _startswith(args: list[Any], budget: Budget) -> bool:
    return as_text(args[0], "startswith").startswith(as_text(args[1], "startswith"))


def _endswith(args: list[Any], budget: Budget) -> bool:
    return as_text(args[0], "endswith").endswith(as_text(args[1], "endswith"))


def _lower(args: list[Any], budget: Budget) -> str:
    return as_text(args[0], "lower").lower()


def _upper(args: list[Any], budget: Budget) -> str:
    return as_text(args[0], "upper").upper()


def _join(args: list[Any], budget: Budget) -> str:
    items = args[0] if is_list(args[0]) else [args[0]]
    separator = as_text(args[1], "join") if len(args) > 1 else ","
    budget.tick(len(items) // 16)
    total = check_total(len(separator) * max(len(items) - 1, 0))
    for item in items:  # measured before anything is built
        total += text_length(item, budget, MAX_STRING_CHARS - total)
    return separator.join(to_str(item) for item in items)


def _split(args: list[Any], budget: Budget) -> list[str]:
    text = as_text(args[0], "split")
    separator = as_text(args[1], "split") if len(args) > 1 and args[1] is not None else None
    if separator == "":
        raise type_error(_("split needs a non-empty separator"))
    limit = args[2] if len(args) > 2 else -1
    if not isinstance(limit, int) or isinstance(limit, bool):
        raise type_error(_("split needs a whole number as its limit"))
    budget.tick(len(text) // 64)
    parts = text.split(separator, min(limit, MAX_ITEMS) if limit >= 0 else MAX_ITEMS)
    return list(check_size(parts))


_FORMAT_FIELD = re.compile(r"\{\{|\}\}|\{(\d+)\}|[{}]")


def _format(args: list[Any], budget: Budget) -> str:
    template = as_text(args[0], "format")
    values = args[1:]
    lengths: dict[int, int] = {}
    total = len(template)
    for match in _FORMAT_FIELD.finditer(template):  # measure first: build nothing too big
        token = match.group()
        if token in ("{{", "}}"):
            continue
        if match.group(1) is None:
            raise type_error(_("format: a single '{' or '}' must be doubled"))
        position = int(match.group(1))
        if position >= len(values):
            raise type_error(_("format: no value for {{{n}}}", n=position))
        budget.tick()
        if position not in lengths:
            lengths[position] = text_length(values[position], budget)
        total = check_total(total + lengths[position])

    def substitute(match: re.Match[str]) -> str:
        token = match.group()
        return token[0] if token in ("{{", "}}") else to_str(values[int(match.group(1))])

    return _FORMAT_FIELD.sub(substitute, template)


def _to_json(args: list[Any], budget: Budget) -> str:
    text_length(args[0], budget, quoted=True)
    text = to_json(args[0])
    budget.tick(len(text) // 256)
    return text


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _count(value: Any, budget: Budget) -> None:
    """Charge a parsed JSON value's items to the budget; bound its lists and nesting."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        budget.tick()
        children = item if isinstance(item, list) else None
        if isinstance(item, dict):
            children = list(item.values())
        if children:
            check_size(item)
            if depth >= MAX_VALUE_DEPTH:
                raise too_deep()
            stack.extend((child, depth + 1) for child in children)


def _from_json(args: list[Any], budget: Budget) -> Any:
    text = as_text(args[0], "from_json")
    budget.tick(len(text) // 256)
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise type_error(_("from_json: not valid JSON: {error}", error=str(exc)[:100])) from None
    _count(value, budget)
    return value


def _int(args: list[Any], budget: Budget) -> int:
    value = args[0]
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise type_error(_("int: number out of range"))
        return int(check_number(int(value)))
    if isinstance(value, int):
        return value
    if isinstance(value, str) and len(value.strip()) <= 30:
        try:
            return int(check_number(int(value.strip(), 10)))
        except ValueError:
            pass
    raise type_error(_("int: cannot convert {value}", value=_preview(value)))


def _float(args: list[Any], budget: Budget) -> float:
    value = args[0]
    if is_number(value) or isinstance(value, bool):
        return float(check_number(float(value)))
    if isinstance(value, str) and len(value.strip()) <= 100:
        try:
            return float(check_number(float(value.strip())))
        except ValueError:
            pass
    raise type_error(_("float: cannot convert {value}", value=_preview(value)))


def _preview(value: Any) -> str:
    """A short text for an error message, without turning a big value into text."""
    if isinstance(value, list | tuple | Mapping):
        return type_name(value)
    return to_str(value)[:40]


def _str(args: list[Any], budget: Budget) -> str:
    text_length(args[0], budget)
    return to_str(args[0])


def _bool(args: list[Any], budget: Budget) -> bool:
    return truthy(args[0])


def _whole(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise type_error(_("range needs whole numbers"))
    return value


def _range(args: list[Any], budget: Budget) -> list[int]:
    bounds = [_whole(arg) for arg in args]
    start, stop, step = (0, bounds[0], 1) if len(bounds) == 1 else (*bounds[:2], 1)
    if len(bounds) == 3:
        step = bounds[2]
    if step == 0:
        raise type_error(_("range: the step must not be 0"))
    span = range(start, stop, step)
    if len(span) > MAX_ITEMS:
        raise ExpressionError("expr.too_large", _("too many items (over {limit})", limit=MAX_ITEMS))
    budget.tick(len(span) // 16)
    return list(span)


def _extreme(args: list[Any], budget: Budget, name: str, pick: Callable[..., Any]) -> Any:
    items = list(as_list(args[0], name)) if len(args) == 1 else args
    budget.tick(len(items) // 16)
    if not items:
        return None
    if all(is_number(item) for item in items) or all(isinstance(item, str) for item in items):
        return pick(items)
    raise type_error(_("{function} needs numbers or texts", function=name))


def _min(args: list[Any], budget: Budget) -> Any:
    return _extreme(args, budget, "min", min)


def _max(args: list[Any], budget: Budget) -> Any:
    return _extreme(args, budget, "max", max)


def _sum(args: list[Any], budget: Budget) -> int | float:
    items = as_list(args[0], "sum")
    budget.tick(len(items) // 16)
    if not all(is_number(item) for item in items):
        raise type_error(_("sum needs a list of numbers"))
    return check_number(sum(items))


def _default(args: list[Any], budget: Budget) -> Any:
    return args[1] if args[0] is None else args[0]


def _hash_files(args: list[Any], budget: Budget) -> str:
    try:
        return _hash_matching(args, budget)
    # An unreadable file, or a pattern pathlib's glob refuses (3.11 raises AttributeError on
    # some degenerate ones).
    except (OSError, ValueError, IndexError, AttributeError) as exc:
        message = _("hash_files: {error}", error=str(exc)[:200])
        raise ExpressionError("expr.files", message) from None


def _hash_matching(args: list[Any], budget: Budget) -> str:
    root = budget.files_root
    if root is None:
        raise ExpressionError("expr.unavailable", _("hash_files is not available here"))
    root = root.resolve()
    include: set[Path] = set()
    exclude: set[Path] = set()
    for pattern in args:
        text = as_text(pattern, "hash_files")
        negate = text.startswith("!")
        text = text.removeprefix("!")
        parts = Path(text).parts
        if not parts or text.startswith("/") or ".." in parts:
            raise type_error(_("hash_files: patterns must be relative, without ..: {p}", p=text))
        target = exclude if negate else include
        for found in root.glob(text):
            budget.tick()
            target.add(found)
            if len(include) > MAX_HASH_FILES:
                raise ExpressionError(
                    "expr.too_large", _("hash_files: more than {n} files", n=MAX_HASH_FILES)
                )
    return _digest(root, sorted(include - exclude), budget)


def _digest(root: Path, paths: list[Path], budget: Budget) -> str:
    total = hashlib.sha256()
    count = 0
    for path in paths:
        resolved = path.resolve()
        if not resolved.is_file() or not resolved.is_relative_to(root):
            continue  # a directory, or a symlink out of the sandbox
        file_hash = hashlib.sha256()
        with resolved.open("rb") as handle:
            while chunk := handle.read(_HASH_CHUNK_BYTES):
                budget.tick()
                file_hash.update(chunk)
        total.update(path.relative_to(root).as_posix().encode() + b"\0")
        total.update(file_hash.digest())
        count += 1
    return total.hexdigest() if count else ""


FUNCTIONS: dict[str, Function] = {
    "len": _len, "contains": _contains, "startswith": _startswith, "endswith": _endswith,
    "lower": _lower, "upper": _upper, "join": _join, "split": _split, "format": _format,
    "to_json": _to_json, "toJSON": _to_json, "from_json": _from_json, "fromJSON": _from_json,
    "int": _int, "float": _float, "str": _str, "bool": _bool, "range": _range,
    "min": _min, "max": _max, "sum": _sum, "default": _default, "hash_files": _hash_files,
}  # fmt: skip
