"""The dashboard's pure parts: the run form, the DAG, the overview's counts, texts, assets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from basir.dashboard import assets, forms, graph, overview
from basir.dashboard.live import accept_for, frame
from basir.dashboard.pages_runs import run_filters
from basir.dashboard.web import localised, started_by
from basir.i18n import use_locale
from basir.store.records import EventRecord, RunRecord, TaskRecord

DECLARED = {
    "count": {"type": "integer", "default": 2, "required": True},
    "loud": {"type": "boolean", "default": False},
    "mode": {"type": "string", "enum": ["fast", "safe"], "default": "safe"},
    "tags": {"type": "array", "default": ["a"]},
}


def test_param_fields_show_defaults_then_posted_values_and_errors() -> None:
    fields = {f.name: f for f in forms.param_fields(DECLARED)}
    assert fields["count"].value == "2" and fields["count"].required
    assert fields["loud"].value == "false"
    assert fields["mode"].choices == ("fast", "safe")
    assert fields["tags"].value == '["a"]'
    again = forms.param_fields(DECLARED, {"count": "x"}, {"count": "must be an integer"})
    assert again[0].value == "x" and again[0].error == "must be an integer"
    assert again[0].input_id == "param-count"


def test_only_a_required_param_without_default_must_be_filled() -> None:
    declared = {
        "needed": {"type": "integer", "required": True},
        "given": {"type": "integer", "required": True, "default": 1},
        "free": {"type": "string"},
    }
    fields = {f.name: f.must_fill for f in forms.param_fields(declared)}
    assert fields == {"needed": True, "given": False, "free": False}


def test_posted_params_keep_declared_names_and_read_checkboxes() -> None:
    form = {"param.count": "3", "param.loud": "on", "param.other": "x", "param.mode": ""}
    assert forms.posted_params(form, DECLARED) == {"count": "3", "loud": "true"}
    assert forms.posted_params({}, DECLARED) == {"loud": "false"}


def test_errors_by_param_splits_field_errors_from_the_rest() -> None:
    details = [
        {"field": "params.count", "message": "bad"},
        {"field": "params.count", "message": "second"},
        {"field": "priority", "message": "other"},
    ]
    assert forms.errors_by_param(details) == ({"count": "bad"}, ["other"])
    assert forms.errors_by_param(None) == ({}, [])


def test_graph_edges_follow_needs_and_foreach_parents() -> None:
    spec = {"tasks": [{"id": "a"}, {"id": "b", "needs": ["a"]}, {"id": "c", "needs": "b"}]}
    rows = [
        TaskRecord("r", "a", "succeeded"),
        TaskRecord("r", "b", "running"),
        TaskRecord("r", "b[0]", "queued", parent_id="b", item_index=0),
        TaskRecord("r", "c", "pending"),
        TaskRecord("r", "d", "pending", spec={"id": "d", "needs": ["c", "gone"]}),
    ]
    with use_locale("ar"):
        drawn = graph.graph_of(spec, rows)
    assert drawn["edges"] == [["a", "b"], ["b", "b[0]"], ["b", "c"], ["c", "d"]]
    labels = {n["id"]: n["label"] for n in drawn["nodes"]}
    assert labels["a"] != "succeeded"  # translated
    parents = {n["id"]: n.get("parent") for n in drawn["nodes"]}
    assert parents == {"a": None, "b": None, "b[0]": "b", "c": None, "d": None}


def test_count_finished_counts_only_the_window() -> None:
    runs = [
        RunRecord("1", "w", 1, "succeeded", finished_at=100.0),
        RunRecord("2", "w", 1, "succeeded", finished_at=50.0),
        RunRecord("3", "w", 1, "failed", finished_at=120.0),
        RunRecord("4", "w", 1, "running"),
    ]
    assert overview.count_finished(runs, 100.0) == {"succeeded": 1, "failed": 1}


def test_localised_picks_the_page_language_then_english() -> None:
    text = {"en": "Build", "ar": "بناء"}
    assert localised(text) == "Build"
    with use_locale("ar"):
        assert localised(text) == "بناء"
        assert localised({"en": "Only English"}) == "Only English"
        assert localised({"fr": "Seul"}) == "Seul"
    assert localised(None) == ""
    assert localised("plain") == "plain"


def test_run_filters_drop_what_a_form_could_not_send() -> None:
    assert run_filters({"status": "failed", "workflow": "demo", "cursor": "c"}) == {
        "status": "failed",
        "workflow": "demo",
        "cursor": "c",
    }
    bad = {"status": "exploded", "workflow": "../x", "cursor": "x" * 600}
    assert run_filters(bad) == {"status": None, "workflow": None, "cursor": None}


def test_live_frames_name_the_change_and_filter_by_run() -> None:
    task = EventRecord("task.succeeded", "s", 1.0, run_id="r1", task_id="t", id=7)
    run = EventRecord("run.paused", "s", 1.0, run_id="r1", id=8)
    other = EventRecord("deadline.missed", "s", 1.0, run_id="r1", id=9)
    assert (
        frame(task) == b'id: 7\nevent: task\ndata: {"run":"r1","task":"t","status":"succeeded"}\n\n'
    )
    assert frame(run) == b'id: 8\nevent: run\ndata: {"run":"r1","status":"paused"}\n\n'
    accept = accept_for("r1")
    assert accept(task) and accept(run) and not accept(other)
    assert not accept_for("r2")(task)
    assert accept_for(None)(task)


def test_alert_changes_reach_the_pages_that_show_alerts() -> None:
    fired = EventRecord(
        "alert.firing", "alerts/store_slow.x", 1.0, id=10,
        data={"alert_id": "store_slow.x", "message": {"en": "secret detail"}},
    )  # fmt: skip
    assert accept_for(None)(fired)
    assert (
        frame(fired)
        == b'id: 10\nevent: alert\ndata: {"alert":"store_slow.x","status":"firing"}\n\n'
    )
    overview = Path(assets.STATIC_DIR.parent / "templates" / "overview_live.html").read_text()
    alerts = Path(assets.STATIC_DIR.parent / "templates" / "alerts_live.html").read_text()
    assert "sse:alert" in overview and "sse:alert" in alerts


def test_node_modules_is_found_from_the_env_or_above(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(assets.ASSETS_ENV, str(tmp_path / "missing"))
    assert assets.find_node_modules() is None
    monkeypatch.setenv(assets.ASSETS_ENV, str(tmp_path))
    assert assets.find_node_modules() == tmp_path
    monkeypatch.delenv(assets.ASSETS_ENV)
    htmx = tmp_path / "node_modules" / assets.VENDOR_FILES["htmx.min.js"]
    htmx.parent.mkdir(parents=True)
    htmx.write_text("//")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert assets.find_node_modules(deep) == tmp_path / "node_modules"


def test_per_interval_puts_each_finished_run_in_its_slot() -> None:
    now = 3600.0
    runs = [
        RunRecord("1", "w", 1, "succeeded", finished_at=10.0),
        RunRecord("2", "w", 1, "failed", finished_at=3599.0),
        RunRecord("3", "w", 1, "succeeded", finished_at=3600.0),
        RunRecord("4", "w", 1, "cancelled", finished_at=100.0),
        RunRecord("5", "w", 1, "succeeded", finished_at=-5.0),
        RunRecord("6", "w", 1, "running"),
    ]
    chart = overview.per_interval(runs, now, window_s=3600.0, step_s=600.0)
    assert chart["time"] == [0.0, 600.0, 1200.0, 1800.0, 2400.0, 3000.0]
    assert chart["succeeded"] == [1, 0, 0, 0, 0, 1]
    assert chart["failed"] == [0, 0, 0, 0, 0, 1]


def test_param_types_are_named_in_the_page_language() -> None:
    field = forms.param_fields({"n": {"type": "integer"}})[0]
    assert field.type_label == "a whole number"
    with use_locale("ar"):
        assert field.type_label != "a whole number"
    assert forms.type_label("strange") == "strange"


def _run_by(created_by: str | None, trigger: str) -> RunRecord:
    return RunRecord("r1", "demo", 1, "running", created_by=created_by, trigger=trigger)


def test_who_started_a_run_is_said_in_the_page_language() -> None:
    assert started_by(_run_by("admin", "api")) == "admin"
    assert started_by(_run_by("schedule:nightly", "schedule")) == "schedule nightly"
    assert started_by(_run_by(None, "schedule")) == "a schedule"
    assert started_by(_run_by(None, "run:abc")) == "run abc"
    assert started_by(_run_by(None, "strange")) == "strange"
    with use_locale("ar"):
        for by, trigger in (("schedule:nightly", "schedule"), (None, "api"), (None, "run:abc")):
            text = started_by(_run_by(by, trigger))
            assert re.search(r"[\u0600-\u06FF]{3,}", text), text
            assert not re.search(r"\b(schedule|run|API)\b", text), text


def test_the_success_rate_of_the_last_hour() -> None:
    assert overview.Kpis(0, 0, 0, 3, 1).success_rate == 0.75
    assert overview.Kpis(0, 0, 0, 0, 0).success_rate is None
