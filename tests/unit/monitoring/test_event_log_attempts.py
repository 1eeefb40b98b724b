"""Which attempt a lifecycle log line is about, and that nothing is kept after a run ends."""

from __future__ import annotations

from basir.monitoring.event_log import AttemptNumbers
from basir.store.records import EventRecord


def event(kind: str, run: str, task: str | None = None, **data: object) -> EventRecord:
    return EventRecord(kind, f"runs/{run}", 0.0, dict(data), run_id=run, task_id=task)


def test_the_attempt_of_a_retry_and_a_failure_comes_from_task_started() -> None:
    seen = AttemptNumbers()
    assert seen.see(event("task.started", "r", "t", attempt=1)) == 1
    assert seen.see(event("task.retrying", "r", "t")) == 1
    assert seen.see(event("task.started", "r", "t", attempt=2)) == 2
    assert seen.see(event("task.failed", "r", "t")) == 2
    assert seen.see(event("task.retrying", "r", "t")) is None  # forgotten at its end


def test_a_run_end_forgets_its_tasks_and_the_count_of_runs_is_bounded() -> None:
    seen = AttemptNumbers()
    seen.MAX_RUNS = 2
    seen.see(event("task.started", "a", "t", attempt=1))
    seen.see(event("run.cancelled", "a"))  # its task's end was never seen
    assert seen.see(event("task.retrying", "a", "t")) is None
    for run in ("b", "c", "d"):
        seen.see(event("task.started", run, "t", attempt=3))
    assert seen.see(event("task.retrying", "b", "t")) is None  # the oldest went
    assert seen.see(event("task.retrying", "d", "t")) == 3
