"""What the user's controls do to a live run, as functions over the flow and its journal.

`Engine` (`engine.runtime`) loads the run, calls one of these, then waits for the commit; each
records an event naming who acted (`by`), so a run's history shows every modification.
"""

from __future__ import annotations

import time
from typing import Any

from basir.engine.flow import Flow
from basir.engine.state import RunState, TaskState
from basir.engine.timers import retry_key
from basir.errors import ConflictError
from basir.i18n import _
from basir.spec.models import Task
from basir.states import TASK_RETRYABLE, TASK_TERMINAL, RunStatus, TaskStatus
from basir.store.records import TaskRecord

_WAITING = frozenset({TaskStatus.PENDING, TaskStatus.QUEUED, TaskStatus.RETRYING})


def cancel(flow: Flow, run: RunState, by: str | None) -> None:
    """Nothing new starts; waiting tasks end `cancelled`; running attempts are stopped."""
    run.cancel_requested = True
    flow.journal.event("run.cancelling", run, data={"by": by})
    for task in list(run.tasks.values()):
        if task.status in _WAITING:
            flow.timers.cancel(retry_key(run, task))
            flow.finish_task(run, task, TaskStatus.CANCELLED, finished_at=time.time())
    for (attempt_run, task_id), attempt in list(flow.attempts.items()):
        if attempt_run == run.id:
            run.tasks[task_id].stop_reason = "cancel"
            attempt.cancel()
    flow.settle(run)


def retry(flow: Flow, run: RunState, by: str | None) -> None:
    """Reset a finished run's failed and cancelled tasks to pending and start it again."""
    for task in run.tasks.values():
        if task.status in TASK_RETRYABLE:
            flow.journal.task_to(
                run,
                task,
                TaskStatus.PENDING,
                "task.reset",
                data={"by": by},
                attempts=0,
                error=None,
                finished_at=None,
                outputs={},
            )
    run.link()
    flow.journal.run_to(run, RunStatus.RUNNING, data={"by": by}, finished_at=None, error=None)
    flow.evaluate_ready(run)
    flow.arm_deadline(run)
    flow.settle(run)


def add(flow: Flow, run: RunState, new_tasks: list[Task], by: str | None) -> None:
    """Insert validated tasks into a live run and decide those whose needs have ended."""
    now = time.time()
    for spec in new_tasks:
        task = TaskState(
            id=spec.id, spec=spec, status=TaskStatus.PENDING, seq=run.next_seq, dynamic=True
        )
        run.add(task)
        flow.journal.insert_row(
            TaskRecord(
                run_id=run.id,
                task_id=spec.id,
                status=TaskStatus.PENDING,
                updated_at=now,
                spec=spec.model_dump(mode="json", by_alias=True, exclude_defaults=True),
            )
        )
    flow.journal.event("run.modified", run, data={"by": by, "added": [t.id for t in new_tasks]})
    for spec in new_tasks:
        task = run.tasks[spec.id]
        if task.remaining == 0 and task.status == TaskStatus.PENDING:
            flow.evaluate(run, task)


def hold(
    flow: Flow,
    run: RunState,
    task: TaskState,
    *,
    stop_running: bool,
    resume_at: float | None,
    by: str | None,
) -> None:
    """Hold a task before it starts; if running and asked, stop it (it is queued again)."""
    if task.status in TASK_TERMINAL:
        raise ConflictError(
            "task.finished",
            _(
                "task {task_id} has already ended ({status})",
                task_id=task.id,
                status=_(task.status),
            ),
        )
    data: dict[str, Any] = {"by": by, "resume_at": resume_at, "stop_running": stop_running}
    flow.journal.task_fields(run, task, "task.held", data=data, held=True, hold_until=resume_at)
    attempt = flow.attempts.get((run.id, task.id))
    if stop_running and attempt is not None:
        task.stop_reason = "pause"
        attempt.cancel()
    if resume_at is not None:
        flow.arm_release(run, task, resume_at - time.time())
