"""The journal: every state change of the engine, recorded, folded and committed in batches.

`task_to` / `run_to` check the transition table, update memory and append a guarded change
plus its event to the pending batch.  `commit` writes the batch in one store transaction and
only then publishes its events and hands back what waited for it (attempts to launch, runs
that finished): durable before visible (DESIGN §2.1).  While a write is in flight new changes
pile up in the next batch, so commits are grouped under load.  Transient store errors are
waited out with a bounded backoff (`engine.faults`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from basir.engine.faults import (
    STORE_RETRY_GIVE_UP_S,
    is_transient_store_error,
    store_retry_delay_s,
)
from basir.engine.state import RunState, TaskState
from basir.events.bus import EventBus
from basir.i18n.deferred import stored_error
from basir.states import RunStatus, TaskStatus, check_run_transition, check_task_transition
from basir.store.base import Store
from basir.store.records import (
    Batch,
    EventRecord,
    RunInsert,
    RunRecord,
    RunUpdate,
    TaskInsert,
    TaskRecord,
    TaskUpdate,
)

log = logging.getLogger(__name__)

# Event types of run transitions whose name is not simply `run.<target status>`.
RUN_EVENTS = {
    (RunStatus.QUEUED, RunStatus.RUNNING): "run.started",
    (RunStatus.PAUSED, RunStatus.RUNNING): "run.resumed",
    (RunStatus.FAILED, RunStatus.RUNNING): "run.retried",
    (RunStatus.CANCELLED, RunStatus.RUNNING): "run.retried",
}


class Metrics(Protocol):
    """What the engine reports to monitoring (implemented in `basir.monitoring.metrics`).

    Every call is cheap and never decides anything: the engine guards them so a broken
    collaborator fails at most the run it was measuring.
    """

    def observe_task(self, duration_s: float, status: str, workflow: str) -> None: ...
    def observe_queue_wait(self, seconds: float, workflow: str) -> None: ...
    def observe_schedule_latency(self, seconds: float) -> None: ...
    def observe_retry(self, workflow: str) -> None: ...
    def observe_preemption(self, workflow: str) -> None: ...
    def observe_deadline_miss(self, workflow: str) -> None: ...
    def observe_run(self, status: str, workflow: str) -> None: ...
    def observe_commit(self, seconds: float, size: int) -> None: ...


@dataclass(slots=True)
class Pending:
    """One batch and what must wait until it is durable."""

    batch: Batch = field(default_factory=Batch)
    launch: list[tuple[RunState, TaskState]] = field(default_factory=list)
    finished: list[RunState] = field(default_factory=list)
    waiters: list[asyncio.Future[None]] = field(default_factory=list)


def exception_text(exc: BaseException) -> str:
    """An error as one line for users: its message, prefixed by its type unless it has a code.

    Bounded as a stored error is (`stored_error`): an exception's text can be of any length.
    """
    message = getattr(exc, "message", None) or str(exc)
    text = f"{type(exc).__name__}: {message}" if not getattr(exc, "code", None) else message
    return stored_error(text)


class Journal:
    """Records transitions and events into the pending batch, and commits it."""

    def __init__(
        self, store: Store, bus: EventBus, wake: Callable[[], None], metrics: Metrics | None
    ) -> None:
        self.store = store
        self.bus = bus
        self.metrics = metrics
        self._wake = wake
        self._pending = Pending()
        self._row_updates: dict[tuple[str, str], TaskUpdate] = {}
        self._row_inserts: dict[tuple[str, str], TaskRecord] = {}
        self._run_inserts: dict[str, RunRecord] = {}
        self._queued_events: dict[tuple[str, str], EventRecord] = {}
        self._dropped_events: set[int] = set()
        self.store_retrying: str | None = None  # the transient store error being waited out

    def wake(self) -> None:
        """Wake the engine's pump: something outside a commit (a timer) made work ready."""
        self._wake()

    # ---------------------------------------------------------------- recording

    def event(
        self,
        kind: str,
        run: RunState,
        task: TaskState | None = None,
        data: dict[str, Any] | None = None,
    ) -> EventRecord:
        """Append one event about a run (or one of its tasks) to the pending batch."""
        payload: dict[str, Any] = {"run_id": run.id, "workflow": run.record.workflow}
        if task is not None:
            payload["task_id"] = task.id
            payload["status"] = str(task.status)
        else:
            payload["status"] = str(run.record.status)
        if data:
            payload.update({k: v for k, v in data.items() if v is not None})
        subject = f"runs/{run.id}" if task is None else f"runs/{run.id}/tasks/{task.id}"
        record = EventRecord(
            type=kind,
            subject=subject,
            time=time.time(),
            data=payload,
            run_id=run.id,
            workflow=run.record.workflow,
            task_id=task.id if task is not None else None,
        )
        self._pending.batch.events.append(record)
        self._wake()
        return record

    def system_event(self, kind: str, subject: str, data: dict[str, Any]) -> EventRecord:
        """Append one event about no run in particular (a leak the sweeper fixed)."""
        record = EventRecord(type=kind, subject=subject, time=time.time(), data=data)
        self._pending.batch.events.append(record)
        self._wake()
        return record

    def insert_run(self, record: RunRecord, rows: list[TaskRecord]) -> None:
        """Queue a new run with its task rows; later changes in this batch fold into them."""
        insert = RunInsert(run=_copy_run(record), tasks=rows)
        self._pending.batch.changes.append(insert)
        self._run_inserts[record.id] = insert.run
        for row in rows:
            self._row_inserts[(record.id, row.task_id)] = row

    def insert_row(self, row: TaskRecord) -> None:
        """Queue a new task row; later changes in this batch are folded into it."""
        self._row_inserts[(row.run_id, row.task_id)] = row
        self._pending.batch.changes.append(TaskInsert(row))

    def run_to(
        self,
        run: RunState,
        target: RunStatus,
        data: dict[str, Any] | None = None,
        event: str | None = None,
        **fields: Any,
    ) -> None:
        """Move a run to `target` (checked), in memory and in the pending batch, with its event."""
        current = RunStatus(run.record.status)
        check_run_transition(current, target)
        now = time.time()
        run.record.status = target
        run.record.updated_at = now
        for key, value in fields.items():
            setattr(run.record, key, value)
        inserted = self._run_inserts.get(run.id)
        if inserted is not None:
            for name, value in {"status": str(target), "updated_at": now, **fields}.items():
                setattr(inserted, name, value)
        else:
            self._pending.batch.changes.append(
                RunUpdate(
                    run_id=run.id,
                    fields={"status": str(target), "updated_at": now, **fields},
                    from_statuses=(str(current),),
                )
            )
        if event is None:
            event = RUN_EVENTS.get((current, target), f"run.{target}")
        self.event(event, run, data=data)

    def task_to(
        self,
        run: RunState,
        task: TaskState,
        target: TaskStatus,
        event: str | None = None,
        data: dict[str, Any] | None = None,
        **fields: Any,
    ) -> None:
        """Move a task to `target` (checked), in memory and in the pending batch, with its event."""
        current = task.status
        check_task_transition(current, target)
        now = time.time()
        task.status = target
        for key, value in fields.items():
            setattr(task, key, value)
        self._update_row(run, task, current, {"status": str(target), "updated_at": now, **fields})
        self.event(event or f"task.{target}", run, task, data)

    def task_fields(
        self,
        run: RunState,
        task: TaskState,
        event: str,
        data: dict[str, Any] | None = None,
        **fields: Any,
    ) -> None:
        """Change a task's fields without changing its state (hold, release)."""
        for key, value in fields.items():
            setattr(task, key, value)
        self._update_row(run, task, task.status, {"updated_at": time.time(), **fields})
        self.event(event, run, task, data)

    def task_row(self, run: RunState, task: TaskState, **fields: Any) -> None:
        """Change a task's fields, guarded on its state, with no event (an attempt's process)."""
        for key, value in fields.items():
            setattr(task, key, value)
        self._update_row(run, task, task.status, fields)

    def _update_row(
        self, run: RunState, task: TaskState, current: TaskStatus, fields: dict[str, Any]
    ) -> None:
        """Queue a guarded row update, folded into this batch's earlier one for the same task.

        pending → queued → running in one batch becomes a single UPDATE guarded on `pending`:
        the same end state and the same race check, at a third of the writes.
        """
        key = (run.id, task.id)
        inserted = self._row_inserts.get(key)
        if inserted is not None:  # created in this very batch: write its latest state at once
            for name, value in fields.items():
                setattr(inserted, name, value)
            return
        earlier = self._row_updates.get(key)
        if earlier is not None:
            earlier.fields.update(fields)
            return
        update = TaskUpdate(
            run_id=run.id, task_id=task.id, fields=fields, from_statuses=(str(current),)
        )
        self._row_updates[key] = update
        self._pending.batch.changes.append(update)

    def queued(self, run: RunState, task: TaskState) -> None:
        """Remember the `task.queued` event just recorded, in case the task starts this batch."""
        self._queued_events[(run.id, task.id)] = self._pending.batch.events[-1]

    def started(self, run: RunState, task: TaskState) -> None:
        """Queued and started in one commit: only `task.started` is recorded."""
        queued = self._queued_events.pop((run.id, task.id), None)
        if queued is not None:
            self._dropped_events.add(id(queued))

    def launch(self, run: RunState, task: TaskState) -> None:
        """Begin this attempt once its `running` state is durable."""
        self._pending.launch.append((run, task))

    def finished(self, run: RunState) -> None:
        """Tell this run's waiters once its final state is durable."""
        self._pending.finished.append(run)

    def waiter(self) -> asyncio.Future[None]:
        """A future resolved once everything recorded so far is committed."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.waiters.append(future)
        return future

    # ---------------------------------------------------------------- committing

    def take(self) -> Pending:
        """Hand over the pending batch (and what waits for it); start a new one."""
        pending, self._pending = self._pending, Pending()
        self._row_updates, self._row_inserts, self._run_inserts = {}, {}, {}
        if self._dropped_events:
            dropped = self._dropped_events
            pending.batch.events = [e for e in pending.batch.events if id(e) not in dropped]
        self._queued_events, self._dropped_events = {}, set()
        return pending

    async def commit(self) -> Pending:
        """Write the pending batch and publish its events; return what waited for it.

        On an error that is not transient the waiters get it and it is raised: the engine's
        state is then unknown and the caller stops.
        """
        pending = self.take()
        if not pending.batch:
            return pending
        started = time.perf_counter()
        try:
            events = await self._write(pending.batch)
        except Exception as exc:
            resolve(pending.waiters, exc)
            raise
        if self.metrics is not None:
            size = len(pending.batch.changes) + len(pending.batch.events)
            try:
                self.metrics.observe_commit(time.perf_counter() - started, size)
            except Exception:  # monitoring never stops the engine
                log.exception("metrics failed")
        try:
            self.bus.publish(events)
        except Exception:  # a broken subscriber must not stop the runs it watches
            log.exception("publishing events failed")
        return pending

    async def _write(self, batch: Batch) -> list[EventRecord]:
        """Write one batch, waiting out transient store errors with a bounded backoff."""
        failures = 0
        began = time.monotonic()
        while True:
            try:
                events = await self.store.write(batch)
            except Exception as exc:
                waited = time.monotonic() - began
                if not is_transient_store_error(exc) or waited > STORE_RETRY_GIVE_UP_S:
                    raise
                failures += 1
                delay = store_retry_delay_s(failures)
                self.store_retrying = exception_text(exc)
                log.warning(
                    "store write failed (%s); retry %d in %.2fs",
                    self.store_retrying,
                    failures,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            if self.store_retrying is not None:
                log.warning("store write succeeded again after %d retries", failures)
                self.store_retrying = None
            return events

    def fail_waiters(self, error: Exception) -> None:
        """Resolve everyone waiting for a commit with `error` (the engine has stopped)."""
        resolve(self._pending.waiters, error)
        self._pending.waiters = []


def resolve(waiters: list[asyncio.Future[None]], error: Exception | None = None) -> None:
    """Resolve commit waiters, with an error or not."""
    for waiter in waiters:
        if not waiter.done():
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(error)


def _copy_run(record: RunRecord) -> RunRecord:
    return replace(record)
