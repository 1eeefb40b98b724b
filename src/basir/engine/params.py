"""Checking and completing a run's parameters against the workflow's declared `params`."""

from __future__ import annotations

import json
from typing import Any

from basir.engine.errors import invalid_params
from basir.i18n import _
from basir.spec.models import Param, WorkflowSpec

MAX_PARAMS_BYTES = 1024 * 1024

_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def _coerce_text(name: str, text: str, param: Param) -> Any:
    """Turn `-p key=value` text into the declared type."""
    kind = param.type
    if kind == "string":
        return text
    if kind == "boolean" and text.lower() in {"true", "false", "yes", "no", "1", "0"}:
        return text.lower() in {"true", "yes", "1"}
    try:
        value = json.loads(text)
    except ValueError:
        raise invalid_params(
            _("parameter {name} must be of type {type}", name=name, type=kind), name
        ) from None
    if kind == "number" and isinstance(value, int) and not isinstance(value, bool):
        return value
    return value


def _type_ok(value: Any, kind: str) -> bool:
    if isinstance(value, bool) and kind in {"integer", "number"}:
        return False
    return isinstance(value, _PY_TYPES[kind])


def resolve_params(
    spec: WorkflowSpec, given: dict[str, Any] | None, *, from_text: bool = False
) -> dict[str, Any]:
    """Validate `given` against `spec.params` and fill in defaults.

    Unknown names, missing required values, wrong types and values outside `enum` are errors
    with the parameter's field path.  With `from_text`, string values are parsed into the
    declared type (the CLI's `-p key=value`).
    """
    given = dict(given or {})
    if len(json.dumps(given, default=str)) > MAX_PARAMS_BYTES:
        raise invalid_params(_("parameters are larger than 1 MiB"))
    resolved: dict[str, Any] = {}
    for name in given:
        if name not in spec.params:
            known = ", ".join(sorted(spec.params)) or "-"
            raise invalid_params(
                _("unknown parameter {name} (known: {known})", name=name, known=known), name
            )
    for name, param in spec.params.items():
        if name in given:
            value = given[name]
            if from_text and isinstance(value, str):
                value = _coerce_text(name, value, param)
        elif param.default is not None:
            value = param.default
        elif param.required:
            raise invalid_params(_("parameter {name} is required", name=name), name)
        else:
            continue
        if not _type_ok(value, param.type):
            raise invalid_params(
                _("parameter {name} must be of type {type}", name=name, type=param.type), name
            )
        if param.enum is not None and value not in param.enum:
            allowed = ", ".join(map(str, param.enum))
            raise invalid_params(
                _("parameter {name} must be one of: {allowed}", name=name, allowed=allowed), name
            )
        resolved[name] = value
    return resolved
