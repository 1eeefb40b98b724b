"""Rows, JSON payloads, update checks and cursors (`store.codec`)."""

from __future__ import annotations

import base64

import pytest

from basir.states import RUN_ACTIVE
from basir.store import codec
from basir.store.records import EventRecord, RunRecord, TaskRecord
from basir.store.tables import events, runs, tasks


def test_active_run_statuses_are_the_foundations() -> None:
    assert set(codec.ACTIVE_RUN_STATUSES) == {str(s) for s in RUN_ACTIVE}
    # Plain text in lifecycle order: the bind values are the same in every process.
    assert codec.ACTIVE_RUN_STATUSES == ("queued", "running", "paused")
    assert all(type(s) is str for s in codec.ACTIVE_RUN_STATUSES)


def test_record_fields_are_table_columns() -> None:
    assert set(codec.RUN_COLUMNS) == set(runs.c.keys())
    assert set(codec.TASK_COLUMNS) == set(tasks.c.keys()) - {"seq"}
    assert set(codec.EVENT_COLUMNS) == set(events.c.keys())


@pytest.mark.parametrize("created_at", [0.0, 1.1, 1_761_234_567.123456, 1e-7])
def test_cursor_round_trips_exactly(created_at: float) -> None:
    cursor = codec.encode_cursor(created_at, "run-ü-1")
    assert "=" not in cursor
    assert codec.decode_cursor(cursor) == (created_at, "run-ü-1")


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor!",
        base64.urlsafe_b64encode(b"[1]").decode(),
        base64.urlsafe_b64encode(b'["a", "b"]').decode(),
        base64.urlsafe_b64encode(b"{}").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_bad_cursors_are_value_errors(cursor: str) -> None:
    with pytest.raises(ValueError, match="invalid cursor"):
        codec.decode_cursor(cursor)


def test_update_values_check_names_and_encode_payloads() -> None:
    values = codec.update_values(
        "task",
        {"status": "running", "outputs": {"a": "ب"}, "item": None, "spec": {"x": 1}, "held": 1},
    )
    assert values == {
        "status": "running",
        "outputs": '{"a":"ب"}',
        "item": None,
        "spec": '{"x":1}',
        "held": True,
    }
    assert codec.update_values("task", {"outputs": None}) == {"outputs": "{}"}
    assert codec.update_values("run", {"params": {"p": [1]}}) == {"params": '{"p":[1]}'}
    with pytest.raises(ValueError, match="'run_id' cannot be updated"):
        codec.update_values("task", {"run_id": "x"})
    with pytest.raises(ValueError, match="'id' cannot be updated"):
        codec.update_values("run", {"id": "x"})


def test_rows_decode_back_to_the_records() -> None:
    run = RunRecord("r", "wf", 2, "queued", params={"a": [1, None]}, deadline_at=5.5)
    row = codec.run_row(run)
    assert codec.decode_run([row[n] for n in codec.RUN_COLUMNS]) == run
    task = TaskRecord("r", "t", "pending", item=0, spec={"run": "x"}, held=True)
    row = codec.task_row(task, 7)
    assert row["seq"] == 7
    assert codec.decode_task([row[n] for n in codec.TASK_COLUMNS]) == task
    ev = EventRecord("task.queued", "r/t", 1.0, {"k": "v"}, "r", "wf", "t")
    row = {"id": 9, **codec.event_row(ev)}
    assert codec.decode_event([row[n] for n in codec.EVENT_COLUMNS]) == EventRecord(
        "task.queued", "r/t", 1.0, {"k": "v"}, "r", "wf", "t", id=9
    )


def test_page_of_keeps_limit_and_points_after_the_last() -> None:
    found = [RunRecord(f"r{i}", "wf", 1, "queued", created_at=float(10 - i)) for i in range(4)]
    page = codec.page_of(found, 3)
    assert [r.id for r in page.items] == ["r0", "r1", "r2"]
    assert page.next is not None and codec.decode_cursor(page.next) == (8.0, "r2")
    assert codec.page_of(found[:3], 3).next is None
    assert codec.page_of([], 0).next is None
