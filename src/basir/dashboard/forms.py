"""The run form of a workflow: its typed params as fields, and posted text → typed values.

Pure functions over the workflow's canonical `params` mapping; the engine still validates
what is submitted, and its per-field errors are shown beside the fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from basir.spec.values import type_label

FIELD_PREFIX = "param."
PARAMS_PATH = "params."


@dataclass(frozen=True, slots=True)
class ParamField:
    """One input of the run form."""

    name: str
    type: str
    required: bool
    description: object
    value: str
    choices: tuple[str, ...] = ()
    error: str | None = None
    has_default: bool = False

    @property
    def type_label(self) -> str:
        """The type in the page's language."""
        return type_label(self.type)

    @property
    def must_fill(self) -> bool:
        """Required with no default: left empty, the server refuses the run."""
        return self.required and not self.has_default

    @property
    def input_id(self) -> str:
        """The HTML id of the input (labels point at it)."""
        return f"param-{self.name}"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        import json

        return json.dumps(value, ensure_ascii=False)
    return str(value)


def param_fields(
    declared: Mapping[str, Any],
    posted: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
) -> list[ParamField]:
    """A field per declared param: posted value (after an error) or default, and its error."""
    fields = []
    for name, decl in declared.items():
        spec = decl if isinstance(decl, Mapping) else {}
        kind = str(spec.get("type", "string"))
        value = (
            posted[name] if posted is not None and name in posted else _text(spec.get("default"))
        )
        choices = tuple(_text(c) for c in spec.get("enum") or ())
        fields.append(
            ParamField(
                name=name,
                type=kind,
                required=bool(spec.get("required")),
                description=spec.get("description"),
                value=value,
                choices=choices,
                error=(errors or {}).get(name),
                has_default=spec.get("default") is not None,
            )
        )
    return fields


def posted_params(form: Mapping[str, Any], declared: Mapping[str, Any]) -> dict[str, str]:
    """The declared params present in a posted form, as text (a checkbox unticked = false)."""
    values: dict[str, str] = {}
    for name, decl in declared.items():
        raw = form.get(FIELD_PREFIX + name)
        kind = decl.get("type") if isinstance(decl, Mapping) else None
        if kind == "boolean":
            values[name] = "true" if raw in ("true", "on") else "false"
        elif isinstance(raw, str) and raw != "":
            values[name] = raw
    return values


def errors_by_param(details: list[dict[str, Any]] | None) -> tuple[dict[str, str], list[str]]:
    """Problem details → messages by param name, and those not about one param."""
    by_name: dict[str, str] = {}
    general: list[str] = []
    for item in details or ():
        field = str(item.get("field", ""))
        message = str(item.get("message", ""))
        if field.startswith(PARAMS_PATH):
            by_name.setdefault(field.removeprefix(PARAMS_PATH), message)
        else:
            general.append(message)
    return by_name, general
