"""JSON values as the expression language sees them: truthiness, equality, text form, budgets.

Values are JSON: null, booleans, numbers, text, lists, objects.  `true` never equals `1`
(unlike Python), and every string, list or object an expression *produces* is bounded.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from basir.i18n import _
from basir.spec.expr_syntax import ExpressionError

MAX_STEPS = 100_000
MAX_STRING_CHARS = 1 << 20
MAX_ITEMS = 100_000
MAX_INT = 2**63


class Budget:
    """Counts evaluation steps; raises `expr.budget` once the allowance is spent."""

    __slots__ = ("files_root", "left")

    def __init__(self, steps: int = MAX_STEPS, files_root: Path | None = None) -> None:
        self.left = steps
        self.files_root = files_root

    def tick(self, steps: int = 1) -> None:
        """Spend `steps`; ExpressionError when none are left."""
        self.left -= steps
        if self.left < 0:
            raise ExpressionError(
                "expr.budget",
                _("expression needs too many steps (limit {limit})", limit=MAX_STEPS),
            )


def is_number(value: Any) -> bool:
    """True for ints and floats, false for booleans."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_list(value: Any) -> bool:
    """True for lists and tuples (a context may hold either), not for text."""
    return isinstance(value, list | tuple)


def type_name(value: Any) -> str:
    """The localised JSON type name of `value`, for error messages."""
    if value is None:
        return _("null")
    if isinstance(value, bool):
        return _("boolean")
    if is_number(value):
        return _("number")
    if isinstance(value, str):
        return _("text")
    if is_list(value):
        return _("list")
    if isinstance(value, Mapping):
        return _("object")
    return _("value")


def type_error(message: str) -> ExpressionError:
    """An `expr.type` error."""
    return ExpressionError("expr.type", message)


def truthy(value: Any) -> bool:
    """null, false, 0, '', [] and {} are false; everything else is true."""
    if value is None or value is False:
        return False
    if is_number(value):
        return bool(value)
    if isinstance(value, str | list | tuple | Mapping):
        return len(value) > 0
    return True


def check_number(value: int | float) -> int | float:
    """Reject results JSON cannot carry (inf, nan) and integers beyond 64 bits."""
    if isinstance(value, float) and not math.isfinite(value):
        raise type_error(_("number out of range"))
    if isinstance(value, int) and abs(value) >= MAX_INT:
        raise type_error(_("number out of range"))
    return value


def check_size(value: Any) -> Any:
    """Bound a produced string (1 MiB of characters) or list/object (100,000 entries)."""
    if isinstance(value, str) and len(value) > MAX_STRING_CHARS:
        raise ExpressionError(
            "expr.too_large", _("text too long (over {limit} characters)", limit=MAX_STRING_CHARS)
        )
    if isinstance(value, list | tuple | Mapping) and len(value) > MAX_ITEMS:
        raise ExpressionError("expr.too_large", _("too many items (over {limit})", limit=MAX_ITEMS))
    return value


def json_equal(left: Any, right: Any, budget: Budget) -> bool:
    """JSON equality: numbers by value, booleans only equal booleans, deep for lists/objects."""
    budget.tick()
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if is_number(left) and is_number(right):
        return bool(left == right)
    if is_list(left) and is_list(right):
        return len(left) == len(right) and all(
            json_equal(a, b, budget) for a, b in zip(left, right, strict=True)
        )
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return left.keys() == right.keys() and all(
            json_equal(left[key], right[key], budget) for key in left
        )
    if type(left) is not type(right) and not (isinstance(left, str) and isinstance(right, str)):
        return False
    return bool(left == right)


def format_number(value: int | float) -> str:
    """`3`, `2.5`, and integral floats without `.0` (like JavaScript) up to 2**53."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping) and not isinstance(value, dict):
        return dict(value)
    raise type_error(_("cannot convert {kind} to JSON", kind=type_name(value)))


def to_json(value: Any) -> str:
    """Compact JSON text (UTF-8 kept as is), bounded in size."""
    try:
        text = json.dumps(
            value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_jsonable
        )
    except (ValueError, RecursionError) as exc:
        raise type_error(_("cannot convert to JSON: {error}", error=str(exc)[:100])) from None
    return str(check_size(text))


def to_str(value: Any) -> str:
    """Text form used when a value is substituted into a string: '' for null, JSON for lists."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        return format_number(value)
    if isinstance(value, str):
        return value
    return to_json(value)


def as_text(value: Any, function: str) -> str:
    """`value` if it is text, else an `expr.type` error naming `function`."""
    if not isinstance(value, str):
        raise type_error(
            _("{function} needs text, got {kind}", function=function, kind=type_name(value))
        )
    return value


def as_list(value: Any, function: str) -> Sequence[Any]:
    """`value` if it is a list, else an `expr.type` error naming `function`."""
    if not is_list(value):
        raise type_error(
            _("{function} needs a list, got {kind}", function=function, kind=type_name(value))
        )
    return value  # type: ignore[no-any-return]
