"""Our own, localised message for each common pydantic error type: the one table of them.

Pydantic's messages are English only.  Every place that reports pydantic errors uses this
table: the spec loader (`spec.model_errors`, which adds locations, key names and suggestions
first), tasks added to a live run (`spec.patch`) and the API's problem+json errors
(`api.problems`).  The spec loader shows the offending value; the API does not echo request
input back.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from basir.i18n import _

_Ctx = Mapping[str, Any]


def short_input(value: Any) -> str:
    """A value as shown inside a message: text as it is, anything else as `repr`, cut at 40."""
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:37] + "…"


def _literal_values(expected: str) -> str:
    return ", ".join(re.findall(r"'([^']*)'", expected)) or expected


def _whole(ctx: _Ctx) -> str:
    return _("must be a whole number")


def _number(ctx: _Ctx) -> str:
    return _("must be a number")


def _boolean(ctx: _Ctx) -> str:
    return _("must be true or false")


def _datetime(ctx: _Ctx) -> str:
    return _("must be a date and time (ISO 8601) or a Unix timestamp")


def _mapping(ctx: _Ctx) -> str:
    return _("must be a mapping of keys")


# Built when called, not at import: `_()` answers in the caller's locale.
_BY_TYPE: dict[str, Callable[[_Ctx], str]] = {
    "missing": lambda ctx: _("this field is required"),
    "extra_forbidden": lambda ctx: _("unknown field"),
    "int_type": _whole,
    "int_parsing": _whole,
    "int_from_float": _whole,
    "float_type": _number,
    "float_parsing": _number,
    "bool_type": _boolean,
    "bool_parsing": _boolean,
    "string_type": lambda ctx: _("must be text"),
    "dict_type": _mapping,
    "model_type": _mapping,
    "model_attributes_type": _mapping,
    "list_type": lambda ctx: _("must be a list"),
    "none_required": lambda ctx: _("must be empty (null)"),
    "json_invalid": lambda ctx: _("the body is not valid JSON"),
    "string_pattern_mismatch": lambda ctx: _("does not have the expected form"),
    "datetime_parsing": _datetime,
    "datetime_from_date_parsing": _datetime,
    "datetime_type": _datetime,
    "url_parsing": lambda ctx: _("must be a URL"),
    "url_scheme": lambda ctx: _("must be an http or https URL"),
    "greater_than": lambda ctx: _("must be greater than {limit}", limit=ctx.get("gt")),
    "greater_than_equal": lambda ctx: _("must be at least {limit}", limit=ctx.get("ge")),
    "less_than": lambda ctx: _("must be less than {limit}", limit=ctx.get("lt")),
    "less_than_equal": lambda ctx: _("must be at most {limit}", limit=ctx.get("le")),
    "string_too_long": lambda ctx: _(
        "is too long: at most {limit} characters", limit=ctx.get("max_length")
    ),
    "string_too_short": lambda ctx: _(
        "is too short: at least {limit} characters", limit=ctx.get("min_length")
    ),
    "too_long": lambda ctx: _("has too many entries: at most {limit}", limit=ctx.get("max_length")),
    "too_short": lambda ctx: _("needs at least {limit} entries", limit=ctx.get("min_length")),
    "literal_error": lambda ctx: _(
        "must be one of: {choices}", choices=_literal_values(str(ctx.get("expected", "")))
    ),
}
# Wrong-type errors, where the value given is what the reader needs to see.
_SHOWS_INPUT = frozenset(
    {
        "int_type",
        "int_parsing",
        "int_from_float",
        "float_type",
        "float_parsing",
        "bool_type",
        "bool_parsing",
        "string_type",
        "datetime_parsing",
        "datetime_from_date_parsing",
        "datetime_type",
    }
)


def pydantic_message(error: Mapping[str, Any], *, show_input: bool = False) -> str | None:
    """The localised message for one pydantic error (`type`, `ctx`, `input`), or None.

    None means the type has no message of ours; each caller has its own fallback.  With
    `show_input`, a wrong-type message ends with the value given (", got many").
    """
    kind = str(error.get("type", ""))
    make = _BY_TYPE.get(kind)
    if make is None:
        return None
    text = make(error.get("ctx") or {})
    if show_input and kind in _SHOWS_INPUT:
        text += _(", got {got}", got=short_input(error.get("input")))
    return text


def error_message(error: Mapping[str, Any]) -> str:
    """A localised message for any pydantic error: ours from the table, else the validator's.

    Our own validators raise `ValueError` with a message already localised; pydantic prefixes
    it with "Value error, ".
    """
    message = pydantic_message(error)
    if message is not None:
        return message
    return str(error.get("msg", "")).removeprefix("Value error, ")
