"""Pure parts of custom dashboards: validation, export format, panel columns, the edit form."""

from __future__ import annotations

from typing import Any

import pytest

from basir.boards.model import (
    EXPORT_FORMAT,
    MAX_PANELS,
    Panel,
    check_board,
    check_import,
    export_document,
    step_seconds,
)
from basir.boards.panel_data import columns, panel_window, series_label
from basir.dashboard.board_form import place_errors, posted, slots_of
from basir.monitoring.history_query import Series

KNOWN = frozenset({"basir_runs_finished_total", "basir_queue_depth"})


def _panel(**changes: Any) -> dict[str, Any]:
    return {"metric": "basir_queue_depth", "chart": "area", "window": "6h", **changes}


def _codes(raw: Any) -> dict[str, str]:
    board, problems = check_board(raw, KNOWN)
    assert board is None
    return {p["field"]: p["code"] for p in problems}


def test_a_valid_board_is_cleaned_and_defaults_filled() -> None:
    board, problems = check_board(
        {"name": "  Ops  ", "visibility": "shared", "panels": [_panel(title="Queue", step="")]},
        KNOWN,
    )
    assert problems == []
    assert board is not None
    assert board.name == "Ops" and board.namespace == "default"
    (panel,) = board.panels
    assert panel.title == {"en": "Queue"} and panel.step is None and panel.by is None
    assert panel.chart == "area" and panel.window == "6h"


def test_every_problem_is_reported_at_its_field_at_once() -> None:
    codes = _codes(
        {
            "name": "",
            "visibility": "public",
            "panels": [
                _panel(metric="basir_unknown", chart="pie"),
                _panel(window="10m", by="bad-label", title={"fr": "x"}),
                "not a panel",
            ],
        }
    )
    assert codes == {
        "body.name": "dashboard.bad_text",
        "body.visibility": "dashboard.bad_visibility",
        "body.panels[0].metric": "dashboard.unknown_metric",
        "body.panels[0].chart": "dashboard.unknown_chart",
        "body.panels[1].window": "dashboard.bad_window",
        "body.panels[1].by": "dashboard.bad_label",
        "body.panels[1].title.fr": "dashboard.bad_title",
        "body.panels[2]": "dashboard.bad_panel",
    }


@pytest.mark.parametrize(
    ("raw", "field", "code"),
    [
        ({"name": "x" * 81}, "body.name", "dashboard.too_long"),
        (
            {"name": "n", "panels": [_panel()] * (MAX_PANELS + 1)},
            "body.panels",
            "dashboard.too_many_panels",
        ),
        ({"name": "n", "panels": {}}, "body.panels", "dashboard.bad_panels"),
        (
            {"name": "n", "panels": [_panel(step="2h", window="1h")]},
            "body.panels[0].step",
            "dashboard.bad_step",
        ),
        ({"name": "n", "panels": [_panel(step="5s")]}, "body.panels[0].step", "dashboard.bad_step"),
        (
            {"name": "n", "panels": [_panel(step="fast")]},
            "body.panels[0].step",
            "dashboard.bad_step",
        ),
        (
            {"name": "n", "panels": [_panel(window="30d", step="60s")]},
            "body.panels[0].step",
            "dashboard.too_many_points",
        ),
        (
            {"name": "n", "panels": [_panel(metric="Queue")]},
            "body.panels[0].metric",
            "dashboard.bad_metric",
        ),
        (
            {"name": "n", "panels": [_panel(title="t" * 81)]},
            "body.panels[0].title",
            "dashboard.too_long",
        ),
        (
            {"name": "n", "visibility": "shared", "namespace": "Bad_NS"},
            "body.namespace",
            "dashboard.bad_namespace",
        ),
        (
            {"name": "n", "panels": [_panel(colour="red")]},
            "body.panels[0].colour",
            "dashboard.unknown_field",
        ),
        ([], "body", "dashboard.bad_document"),
    ],
)
def test_limits(raw: Any, field: str, code: str) -> None:
    assert _codes(raw).get(field) == code


def test_windows_from_fifteen_minutes_to_thirty_days() -> None:
    for window in ("15m", "1h", "30d"):
        assert check_board({"name": "n", "panels": [_panel(window=window)]}, KNOWN)[0]
    for window in ("14m", "31d", 3600, ""):
        assert _codes({"name": "n", "panels": [_panel(window=window)]}) == {
            "body.panels[0].window": "dashboard.bad_window"
        }


def test_steps_default_to_about_240_points() -> None:
    assert step_seconds(None, 3600) == 15
    assert step_seconds(None, 600) == 10
    assert step_seconds("5m", 3600) == 300
    assert step_seconds("90", 3600) == 90
    with pytest.raises(ValueError):
        step_seconds("1w", 3600)


def test_export_and_import_round_trip() -> None:
    board, _ = check_board({"name": "n", "panels": [_panel()]}, KNOWN)
    assert board is not None
    stored = {"id": "d1", "owner": "u", "name": "n", "panels": [p.document() for p in board.panels]}
    exported = export_document(stored)
    assert exported["format"] == EXPORT_FORMAT and set(exported) == {"format", "name", "panels"}
    again, problems = check_import(exported, KNOWN)
    assert problems == [] and again is not None and again.panels == board.panels
    assert again.visibility == "private"


def test_import_refuses_other_formats_and_fields() -> None:
    assert check_import({"name": "n"}, KNOWN)[1][0]["code"] == "dashboard.bad_format"
    extra = {"format": EXPORT_FORMAT, "name": "n", "owner": "x"}
    assert check_import(extra, KNOWN)[1][0]["field"] == "body.owner"
    unknown = {"format": EXPORT_FORMAT, "name": "n", "panels": [_panel(metric="basir_gone")]}
    assert check_import(unknown, KNOWN)[1][0]["code"] == "dashboard.unknown_metric"


def test_columns_align_series_on_one_time_axis() -> None:
    found = [
        Series({"workflow": "a"}, [[60.0, 1.0], [120.0, 2.0]]),
        Series({"workflow": "b"}, [[120.0, 5.0]]),
        Series({}, [[180.0, 7.0]]),
    ]
    data = columns(found, limit=2)
    assert data["time"] == [60.0, 120.0]
    assert data["values"] == [[1.0, 2.0], [None, 5.0]]
    assert data["latest"] == [2.0, 5.0] and data["more"] == 1
    assert data["series"] == ["workflow=a", "workflow=b"]
    assert series_label({}) == "—"
    assert columns(found[2:], name="basir_queue_depth")["series"] == ["basir_queue_depth"]


def test_panel_window_ends_now() -> None:
    window = panel_window(Panel("basir_queue_depth", "line", "1h", step="1m"), 10_000.0)
    assert (window.start, window.end, window.step_s) == (6_400.0, 10_000.0, 60)


def test_edit_form_keeps_panels_drops_removed_and_empty_new_ones() -> None:
    form = {
        "name": "Ops",
        "visibility": "shared",
        "namespace": "",
        "p0.metric": "basir_queue_depth",
        "p0.chart": "bar",
        "p0.window": "1h",
        "p0.title_ar": "الطابور",
        "p1.metric": "basir_runs_finished_total",
        "p1.remove": "1",
        "p2.metric": "basir_runs_finished_total",
        "p2.chart": "line",
        "p2.window": "7d",
        "p2.step": "1h",
        "p2.by": "workflow",
        "p2.new": "1",
        "p3.metric": "",
        "p3.new": "1",
    }
    document, slots, origin = posted(form)
    assert [s.index for s in slots] == [0, 1, 2, 3]
    assert origin == [0, 2]
    assert document["namespace"] is None and document["visibility"] == "shared"
    assert document["panels"][0]["title"] == {"ar": "الطابور"}
    assert document["panels"][1]["step"] == "1h" and document["panels"][1]["by"] == "workflow"
    board, problems = check_board(document, KNOWN)
    assert problems == [] and board is not None and board.namespace == "default"


def test_problems_land_beside_the_slot_they_came_from() -> None:
    form = {
        "name": "",
        "p0.metric": "basir_queue_depth",
        "p0.remove": "1",
        "p1.metric": "basir_queue_depth",
        "p1.chart": "line",
        "p1.window": "1h",
        "p1.step": "1s",
        "p1.title_en": "x" * 90,
    }
    document, slots, origin = posted(form)
    _board, problems = check_board(document, KNOWN)
    board_errors, general = place_errors(problems, slots, origin)
    assert set(board_errors) == {"name"} and general == []
    assert set(slots[1].errors) == {"step", "title_en"} and slots[0].errors == {}


def test_slots_of_a_stored_board_end_with_a_new_one() -> None:
    slots = slots_of(
        [
            {
                "metric": "basir_queue_depth",
                "chart": "stat",
                "window": "1h",
                "title": {"en": "Q"},
                "step": None,
                "by": None,
            }
        ]
    )
    assert [s.new for s in slots] == [False, True]
    assert slots[0].values["title_en"] == "Q" and slots[0].values["chart"] == "stat"
    assert slots[1].key("metric") == "p1.metric"
