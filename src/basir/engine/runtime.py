"""`Engine`: the core plus the controls a user applies to live runs (DESIGN §7, issue 3).

Every control is persisted with an event naming who did it, so a run's history shows each
modification.
"""

from __future__ import annotations

import time
from typing import Any

from basir.engine import errors
from basir.engine.attempts import AttemptsEngine
from basir.engine.core import _copy_run
from basir.engine.state import RunState, TaskState
from basir.errors import ConflictError
from basir.i18n import _
from basir.spec.patch import parse_added_tasks
from basir.states import TASK_RETRYABLE, TASK_TERMINAL, RunStatus, TaskStatus
from basir.store.records import RunRecord, TaskRecord

__all__ = ["Engine"]


class Engine(AttemptsEngine):
    """Runs workflows durably on one store, and lets users steer the live ones."""

    async def pause_run(self, run_id: str, *, by: str | None = None) -> RunRecord:
        """No new task of the run starts; running ones finish."""
        run = await self._live(run_id)
        if run.record.status != RunStatus.PAUSED:
            self._run_to(run, RunStatus.PAUSED, data={"by": by})
            await self._flush()
        return _copy_run(run.record)

    async def resume_run(self, run_id: str, *, by: str | None = None) -> RunRecord:
        """Undo a pause: parked tasks are queued again in queue order."""
        run = await self._live(run_id)
        if run.record.status == RunStatus.PAUSED:
            self._run_to(run, RunStatus.RUNNING, data={"by": by})
            self._unpark(run)
            await self._flush()
        return _copy_run(run.record)

    async def retry_run(self, run_id: str, *, by: str | None = None) -> RunRecord:
        """Re-run a finished run's failed and cancelled tasks in place, keeping the rest."""
        if run_id in self._runs:
            status = self._runs[run_id].record.status
            raise errors.run_not_finished(run_id, status)
        record = await self.store.get_run(run_id)
        if record is None:
            raise errors.run_not_found(run_id)
        if record.status not in {RunStatus.FAILED, RunStatus.CANCELLED}:
            if record.status == RunStatus.SUCCEEDED:
                raise ConflictError(
                    "run.nothing_to_retry",
                    _("run {run_id} succeeded: there is nothing to retry", run_id=run_id),
                )
            raise errors.run_not_finished(run_id, record.status)
        run = await self._load(record)
        self._runs[run.id] = run
        for task in run.tasks.values():
            if task.status in TASK_RETRYABLE:
                self._task_to(
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
        self._run_to(run, RunStatus.RUNNING, data={"by": by}, finished_at=None)
        self._evaluate_ready(run)
        self._arm_deadline(run)
        self._settle(run)
        await self._flush()
        return _copy_run(run.record)

    async def add_tasks(
        self, run_id: str, tasks: list[dict[str, Any]], *, by: str | None = None
    ) -> RunRecord:
        """Add tasks to a live run: still acyclic, `needs` only on known tasks, ids new."""
        run = await self._live(run_id)
        new_tasks = parse_added_tasks(run.tasks, tasks)
        now = time.time()
        for spec in new_tasks:
            task = TaskState(
                id=spec.id, spec=spec, status=TaskStatus.PENDING, seq=run.next_seq, dynamic=True
            )
            run.add(task)
            self._insert_row(
                TaskRecord(
                    run_id=run.id,
                    task_id=spec.id,
                    status=TaskStatus.PENDING,
                    updated_at=now,
                    spec=spec.model_dump(mode="json", by_alias=True, exclude_defaults=True),
                )
            )
        self._event("run.modified", run, data={"by": by, "added": [t.id for t in new_tasks]})
        for spec in new_tasks:
            task = run.tasks[spec.id]
            if task.remaining == 0 and task.status == TaskStatus.PENDING:
                self._evaluate(run, task)
        await self._flush()
        return _copy_run(run.record)

    async def pause_task(
        self,
        run_id: str,
        task_id: str,
        *,
        stop_running: bool = False,
        resume_at: float | None = None,
        by: str | None = None,
    ) -> TaskRecord:
        """Hold a task before it starts; if running and asked, stop it and queue it again.

        A stopped attempt does not spend a retry and frees its slot at once.  With `resume_at`
        (epoch seconds) the hold lifts by itself.
        """
        run = await self._live(run_id)
        task = _task_of(run, task_id)
        if task.status in TASK_TERMINAL:
            raise ConflictError(
                "task.finished",
                _(
                    "task {task_id} has already ended ({status})",
                    task_id=task_id,
                    status=_(task.status),
                ),
            )
        self._task_fields(
            run,
            task,
            "task.held",
            data={"by": by, "resume_at": resume_at, "stop_running": stop_running},
            held=True,
            hold_until=resume_at,
        )
        attempt = self._attempts.get((run.id, task.id))
        if stop_running and attempt is not None:
            task.stop_reason = "pause"
            attempt.cancel()
        if resume_at is not None:
            self._arm_release(run, task, resume_at - time.time())
        await self._flush()
        return _task_record(run, task)

    async def resume_task(self, run_id: str, task_id: str, *, by: str | None = None) -> TaskRecord:
        """Release a held task: it starts when its turn comes."""
        run = await self._live(run_id)
        task = _task_of(run, task_id)
        self._release(run, task, by)
        await self._flush()
        return _task_record(run, task)


def _task_of(run: RunState, task_id: str) -> TaskState:
    task = run.tasks.get(task_id)
    if task is None:
        raise errors.task_not_found(run.id, task_id)
    return task


def _task_record(run: RunState, task: TaskState) -> TaskRecord:
    return TaskRecord(
        run_id=run.id,
        task_id=task.id,
        status=task.status,
        attempts=task.attempts,
        outputs=dict(task.outputs),
        error=task.error,
        queued_at=task.queued_at,
        started_at=task.started_at,
        finished_at=task.finished_at,
        next_attempt_at=task.next_attempt_at,
        attempt_id=task.attempt_id,
        parent_id=task.parent,
        item_index=task.index,
        item=task.item,
        held=task.held,
        hold_until=task.hold_until,
    )
