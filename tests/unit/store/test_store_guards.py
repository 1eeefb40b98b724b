"""The lost-race diagnosis every store shares (`store.guards.lost_race`)."""

from __future__ import annotations

from basir.store import guards, queries
from basir.store.base import ConflictError, NotFoundError
from basir.store.records import RunUpdate, TaskUpdate


def test_a_missing_row_is_not_found() -> None:
    run_error = guards.lost_race(RunUpdate("r1", {"status": "running"}, ("queued",)), None)
    task_error = guards.lost_race(TaskUpdate("r1", "a", {}, ("queued",)), None)
    assert isinstance(run_error, NotFoundError) and str(run_error) == "run r1 not found"
    assert isinstance(task_error, NotFoundError) and str(task_error) == "task r1/a not found"


def test_a_row_in_another_status_is_a_conflict() -> None:
    change = TaskUpdate("r1", "a", {"status": "running"}, ("queued", "retrying"))
    error = guards.lost_race(change, "cancelled")
    assert isinstance(error, ConflictError)
    assert str(error) == "task r1/a is 'cancelled', not one of ['queued', 'retrying']"


def test_key_params_name_the_row() -> None:
    assert queries.key_params(RunUpdate("r1", {})) == {"k_id": "r1"}
    assert queries.key_params(TaskUpdate("r1", "a", {})) == {"k_run_id": "r1", "k_task_id": "a"}
