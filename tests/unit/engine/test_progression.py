"""DAG progression, the ready queue and the state ↔ row mapping, without I/O."""

from __future__ import annotations

from collections import deque
from typing import Any

from basir.engine import progression
from basir.engine.rules import Gate
from basir.engine.state import RunState, state_from_records, task_record
from basir.scheduler.ready_queue import ReadyQueue
from basir.spec.models import MAX_TASKS, WorkflowSpec
from basir.states import RunStatus, TaskStatus
from basir.store.records import RunRecord, TaskRecord


def run_of(tasks: list[dict[str, Any]], rows: dict[str, dict[str, Any]] | None = None) -> RunState:
    spec = WorkflowSpec.model_validate({"name": "w", "tasks": tasks})
    record = RunRecord(id="r", workflow="w", version=1, status=RunStatus.RUNNING)
    stored = [
        TaskRecord(**{"run_id": "r", "task_id": t["id"], "status": "pending"} | extra)
        for t in tasks
        for extra in [(rows or {}).get(t["id"], {})]
    ]
    return state_from_records(record, spec, stored)


def end(run: RunState, task_id: str, status: TaskStatus) -> None:
    """End one task and decide everything it unblocks, with a worklist (as the flow does)."""
    work = deque([run.tasks[task_id]])
    run.tasks[task_id].status = status
    run.unfinished -= 1
    while work:
        released = progression.count_down(work.popleft(), run.tasks)
        for dependent in released.unblocked:
            gate = progression.verdict(dependent, run.tasks, run.cancel_requested)
            if gate is Gate.RUN:
                continue  # would be queued; this test only follows the failure
            dependent.status = progression.GATE_STATUS[gate]
            run.unfinished -= 1
            work.append(dependent)


def test_a_failure_reaches_the_end_of_a_chain_of_the_limit() -> None:
    tasks = [{"id": "t0", "uses": "noop"}]
    tasks += [{"id": f"t{i}", "needs": [f"t{i - 1}"], "uses": "noop"} for i in range(1, MAX_TASKS)]
    run = run_of(tasks)
    assert [t.id for t in progression.ready_to_decide(run)] == ["t0"]
    end(run, "t0", TaskStatus.FAILED)
    statuses = {t.status for t in list(run.tasks.values())[1:]}
    assert statuses == {TaskStatus.UPSTREAM_FAILED}
    assert run.unfinished == 0
    assert progression.run_settled(run) == RunStatus.FAILED


def test_the_gates_of_a_task_whose_needs_ended() -> None:
    run = run_of(
        [
            {"id": "a", "uses": "noop"},
            {"id": "b", "uses": "noop"},
            {"id": "ok", "needs": ["a", "b"], "uses": "noop"},
            {"id": "fix", "needs": ["a", "b"], "uses": "noop", "when": "on_failure"},
        ]
    )
    end(run, "a", TaskStatus.SUCCEEDED)
    assert run.tasks["ok"].remaining == 1
    end(run, "b", TaskStatus.SKIPPED)
    assert run.tasks["ok"].status == TaskStatus.SKIPPED
    assert run.tasks["fix"].status == TaskStatus.SKIPPED
    run.cancel_requested = True
    assert progression.verdict(run.tasks["ok"], run.tasks, True) is Gate.CANCEL


def test_a_foreach_parent_settles_once_its_instances_ended() -> None:
    run = run_of(
        [{"id": "each", "uses": "noop", "foreach": "${{ range(2) }}"}],
        {"each": {"status": "running"}},
    )
    run.tasks["each"].status = TaskStatus.RUNNING
    run.tasks["each"].open_instances = 1
    assert progression.parent_outcome(run.tasks["each"], run.tasks) is None
    run.tasks["each"].open_instances = 0
    assert progression.parent_outcome(run.tasks["each"], run.tasks) == (
        TaskStatus.SUCCEEDED,
        {"items": []},
    )


def test_a_run_settles_only_when_nothing_is_unfinished() -> None:
    run = run_of([{"id": "a", "uses": "noop"}])
    assert progression.run_settled(run) is None
    end(run, "a", TaskStatus.SUCCEEDED)
    assert progression.run_settled(run) == RunStatus.SUCCEEDED
    run.cancel_requested = True
    assert progression.run_settled(run) == RunStatus.CANCELLED


def test_the_ready_queue_order() -> None:
    queue = ReadyQueue()
    common = {"deadline_at": None, "queued_at": 1.0}
    queue.push("r1", "plain", run_priority=50, priority=None, **common)
    queue.push("r1", "urgent", run_priority=50, priority=90, **common)
    queue.push("r2", "high-run", run_priority=70, priority=None, **common)
    queue.push("r2", "low-task", run_priority=70, priority=10, **common)
    queue.push("r3", "due", run_priority=50, priority=None, deadline_at=5.0, queued_at=2.0)
    queue.push("r1", "plain-later", run_priority=50, priority=None, **common)
    order = [queue.pop()[1] for _ in range(len(queue))]
    assert order == ["urgent", "high-run", "due", "plain", "plain-later", "low-task"]
    assert not queue


def test_task_state_and_row_map_both_ways() -> None:
    row = {
        "status": "retrying",
        "attempts": 2,
        "error": "boom",
        "held": True,
        "hold_until": 9.0,
        "next_attempt_at": 3.0,
        "attempt_id": "x",
        "queued_at": 1.0,
        "started_at": 2.0,
        "finished_at": None,
        "outputs": {"k": 1},
    }
    run = run_of([{"id": "a", "uses": "noop"}], {"a": row})
    back = task_record("r", run.tasks["a"])
    for key, value in row.items():
        assert getattr(back, key) == value, key
