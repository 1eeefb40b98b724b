"""The dashboard edit form: posted fields → a dashboard document, problems → field errors.

Pure.  Panel fields are named `p<slot>.<field>` (`p0.metric`, `p1.title_ar`); the last
slot is the empty "add a panel" one, taken only when a metric is chosen; a ticked
`p<slot>.remove` drops a panel.  Problems located at `body.panels[k].metric` are shown
beside the field of the slot that panel came from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from basir.boards.model import MAX_PANELS

PANEL_FIELDS = ("title_en", "title_ar", "metric", "chart", "window", "step", "by")


@dataclass(slots=True)
class Slot:
    """One panel's fields on the form, as text, with their errors."""

    index: int
    values: dict[str, str]
    new: bool = False
    errors: dict[str, str] = field(default_factory=dict)

    def key(self, name: str) -> str:
        """The form field name (and HTML id suffix) of one of this slot's fields."""
        return f"p{self.index}.{name}"


def slot_of(index: int, panel: Mapping[str, Any] | None) -> Slot:
    """A slot filled from a stored panel (or an empty new one)."""
    if panel is None:
        values = {name: "" for name in PANEL_FIELDS}
        values.update(chart="line", window="1h")
        return Slot(index, values, new=True)
    title = panel.get("title") or {}
    return Slot(
        index,
        {
            "title_en": str(title.get("en", "")),
            "title_ar": str(title.get("ar", "")),
            "metric": str(panel.get("metric", "")),
            "chart": str(panel.get("chart", "line")),
            "window": str(panel.get("window", "1h")),
            "step": str(panel.get("step") or ""),
            "by": str(panel.get("by") or ""),
        },
    )


def slots_of(panels: Sequence[Mapping[str, Any]]) -> list[Slot]:
    """The form's slots for a stored dashboard: its panels, then a new one (room allowing)."""
    slots = [slot_of(i, p) for i, p in enumerate(panels)]
    if len(slots) < MAX_PANELS:
        slots.append(slot_of(len(slots), None))
    return slots


def _text(form: Mapping[str, Any], key: str) -> str:
    value = form.get(key)
    return value.strip() if isinstance(value, str) else ""


def posted(form: Mapping[str, Any]) -> tuple[dict[str, Any], list[Slot], list[int]]:
    """The document of a posted form, the slots as posted, and the slot of each panel kept."""
    slots: list[Slot] = []
    panels: list[dict[str, Any]] = []
    origin: list[int] = []
    for index in range(MAX_PANELS + 1):
        if f"p{index}.metric" not in form:
            continue
        values = {name: _text(form, f"p{index}.{name}") for name in PANEL_FIELDS}
        slot = Slot(index, values, new=form.get(f"p{index}.new") == "1")
        slots.append(slot)
        if form.get(f"p{index}.remove") or (slot.new and not values["metric"]):
            continue
        title = {lang: values[f"title_{lang}"] for lang in ("en", "ar") if values[f"title_{lang}"]}
        panels.append(
            {
                "title": title,
                "metric": values["metric"],
                "chart": values["chart"],
                "window": values["window"],
                "step": values["step"] or None,
                "by": values["by"] or None,
            }
        )
        origin.append(index)
    document: dict[str, Any] = {
        "name": _text(form, "name"),
        "visibility": _text(form, "visibility") or "private",
        "panels": panels,
    }
    namespace = _text(form, "namespace")
    if document["visibility"] == "shared":
        document["namespace"] = namespace or None
    return document, slots, origin


def place_errors(
    problems: Sequence[Mapping[str, Any]], slots: list[Slot], origin: list[int]
) -> tuple[dict[str, str], list[str]]:
    """Put each problem beside its field: slot errors in the slots, the dashboard's own by
    field name (`name`, `namespace`), and the rest as general messages."""
    by_slot = {slot.index: slot for slot in slots}
    board: dict[str, str] = {}
    general: list[str] = []
    for item in problems:
        path, message = str(item.get("field", "")), str(item.get("message", ""))
        head, _sep, rest = path.removeprefix("body.").partition(".")
        if head.startswith("panels[") and head.endswith("]") and rest:
            k = int(head[len("panels[") : -1])
            name = rest.replace("title.", "title_")
            slot = by_slot.get(origin[k]) if k < len(origin) else None
            if slot is not None and name in PANEL_FIELDS:
                slot.errors.setdefault(name, message)
                continue
        elif head in ("name", "visibility", "namespace") and not rest:
            board.setdefault(head, message)
            continue
        general.append(message)
    return board, general
