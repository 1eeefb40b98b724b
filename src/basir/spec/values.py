"""Typed values for run parameters and template inputs: check, coerce and fill defaults.

Used by validation (template `with:` inputs), by the CLI (`-p key=value` arrives as text) and
by whoever starts a run (REST, L2 decisions): `resolve_params(spec.params, given)`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, StrictFloat

from basir.i18n import _
from basir.spec.errors import FieldPath, IssueCode, SpecError, SpecIssue
from basir.spec.expr_values import format_number
from basir.spec.model_errors import suggest
from basir.spec.models import Param, Strict

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


class InputDecl(Strict):
    """A template input: like a `Param`, plus type `any` and numeric bounds."""

    type: Literal["string", "integer", "number", "boolean", "array", "object", "any"] = "string"
    default: Any = None
    required: bool = False
    description: str | dict[str, str] | None = None
    enum: list[Any] | None = Field(None, max_length=1000)
    minimum: StrictFloat | None = None
    maximum: StrictFloat | None = None


def _type_ok(kind: str, value: Any) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    return True  # "any" (template inputs)


def type_label(kind: str) -> str:
    """A value type in words of the current language (the words the spec's errors use)."""
    labels = {
        "string": _("text"),
        "integer": _("a whole number"),
        "number": _("a number"),
        "boolean": _("true or false"),
        "array": _("a list"),
        "object": _("a mapping of keys"),
    }
    return labels.get(kind, kind)


def check_value(decl: Param | InputDecl, value: Any) -> str | None:
    """Why `value` does not fit `decl` (type, enum, `minimum`/`maximum`); None when it fits."""
    if not _type_ok(decl.type, value):
        return _("must be {kind}", kind=type_label(decl.type))
    if decl.enum is not None and value not in decl.enum:
        return _("must be one of: {choices}", choices=", ".join(str(c) for c in decl.enum))
    minimum = decl.minimum if isinstance(decl, InputDecl) else None
    maximum = decl.maximum if isinstance(decl, InputDecl) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            return _("must be a finite number")
        if minimum is not None and value < minimum:
            return _("must be at least {limit}", limit=format_number(minimum))
        if maximum is not None and value > maximum:
            return _("must be at most {limit}", limit=format_number(maximum))
    return None


def coerce_text(decl: Param | InputDecl, text: str) -> Any:
    """Turn command-line text into the declared type; ValueError with a message when it can't."""
    try:
        if decl.type == "integer":
            return int(text.strip())
        if decl.type == "number":
            number = float(text.strip())
            return int(number) if number.is_integer() and "." not in text else number
        if decl.type == "boolean":
            lowered = text.strip().lower()
            if lowered in _TRUE or lowered in _FALSE:
                return lowered in _TRUE
            raise ValueError(text)
        if decl.type in ("array", "object"):
            return json.loads(text)
    except ValueError:
        raise ValueError(_("must be {kind}", kind=type_label(decl.type))) from None
    return text


def resolve_params(
    declared: Mapping[str, Param],
    given: Mapping[str, Any],
    *,
    from_text: bool = False,
    base: FieldPath = ("params",),
) -> dict[str, Any]:
    """Given values checked against their declarations, with defaults filled in.

    Unknown names, missing required values and wrong types are all reported in one
    `SpecError` (code `spec.bad_param`).  With `from_text`, string values are coerced first.
    """
    issues: list[SpecIssue] = []
    result: dict[str, Any] = {}
    for name, raw in given.items():
        value = raw
        decl = declared.get(name)
        if decl is None:
            message = _("unknown parameter {name}", name=name) + suggest(name, declared)
            issues.append(SpecIssue(IssueCode.BAD_PARAM, message, (*base, name)))
            continue
        problem = None
        if from_text and isinstance(value, str):
            try:
                value = coerce_text(decl, value)
            except ValueError as exc:
                problem = str(exc)
        problem = problem or check_value(decl, value)
        if problem:
            issues.append(SpecIssue(IssueCode.BAD_PARAM, problem, (*base, name)))
        result[name] = value
    for name, decl in declared.items():
        if name in result:
            continue
        if decl.required and decl.default is None:
            message = _("missing required parameter {name}", name=name)
            issues.append(SpecIssue(IssueCode.BAD_PARAM, message, (*base, name)))
        else:
            result[name] = decl.default
    if issues:
        raise SpecError(issues, "params")
    return result
