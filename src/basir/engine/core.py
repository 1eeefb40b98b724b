"""The engine's asyncio core: applies the pure rules' decisions, persists, then acts.

Everything that changes state goes through `_task_to` / `_run_to`, which check the transition
table, update memory and append a guarded change plus its event to the pending batch.  One pump
coroutine writes each batch in a single store transaction and only then publishes the events
and launches the attempts it contains: durable before visible (DESIGN §2.1).  While a write is
in flight new changes pile up in the next batch, so commits are grouped under load.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import heapq
import logging
import random
import secrets
import time
import uuid
from pathlib import Path
from typing import Any, Protocol

from basir.config import Settings
from basir.engine import errors
from basir.engine.rendering import Renderer
from basir.engine.rules import aggregate_instances, gate, run_outcome, upstream_of
from basir.engine.state import RunState, TaskState, initial_rows, state_from_records
from basir.engine.states import (
    RUN_TERMINAL,
    RunStatus,
    TaskStatus,
    check_run_transition,
    check_task_transition,
)
from basir.events.bus import EventBus
from basir.executors.registry import ExecutorRegistry, default_registry
from basir.i18n import _
from basir.scheduler.ordering import OrderKey, order_key
from basir.spec.models import WorkflowSpec
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
    WorkflowVersion,
)

log = logging.getLogger(__name__)

MAX_FOREACH_ITEMS = 10_000


class Metrics(Protocol):
    """What the engine reports to monitoring (implemented in `basir.monitoring.metrics`)."""

    def observe_task(self, duration_s: float, status: str) -> None: ...
    def observe_schedule_latency(self, seconds: float) -> None: ...
    def observe_commit(self, seconds: float) -> None: ...


def new_run_id() -> str:
    """A time-sortable, unguessable run id (milliseconds in hex + 40 random bits)."""
    return f"{int(time.time() * 1000):011x}{secrets.token_hex(5)}"


class EngineCore:
    """Runs workflows durably on one store, in this process (run control: `runtime.Engine`)."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        registry: ExecutorRegistry | None = None,
        bus: EventBus | None = None,
        metrics: Metrics | None = None,
        workdir: Path | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.bus = bus or EventBus()
        self.metrics = metrics
        self.registry = registry or default_registry(settings)
        self.workdir = workdir or Path.cwd()
        self._logs_root = str(settings.logs_dir)
        self.renderer = Renderer(
            settings.template_dirs, self.workdir, env_allow=settings.task_env_allow
        )
        self._runs: dict[str, RunState] = {}
        self._ready: list[tuple[OrderKey, str, str]] = []
        self._batch = Batch()
        self._row_updates: dict[tuple[str, str], TaskUpdate] = {}
        self._row_inserts: dict[tuple[str, str], TaskRecord] = {}
        self._run_inserts: dict[str, RunRecord] = {}
        self._queued_events: dict[tuple[str, str], EventRecord] = {}
        self._dropped_events: set[int] = set()
        self._launch: list[tuple[RunState, TaskState]] = []
        self._finished_runs: list[RunState] = []
        self._commit_waiters: list[asyncio.Future[None]] = []
        self._run_waiters: dict[str, list[asyncio.Future[RunRecord]]] = {}
        self._attempts: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._timers: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._wake = asyncio.Event()
        self._pump_task: asyncio.Task[None] | None = None
        self._slots_used = 0
        self._seq = 0
        self._closing = False
        self._random = random.Random()

    # ---------------------------------------------------------------- lifecycle

    async def start(self, *, resume: bool = True) -> None:
        """Start the pump; with `resume`, pick up every active run of the store."""
        if self._pump_task is None:
            self._pump_task = asyncio.create_task(self._pump(), name="basir-engine-pump")
        if resume:
            for record in await self.store.active_runs():
                if record.id not in self._runs:
                    await self.resume(record.id)

    async def stop(self, grace_s: float | None = None) -> None:
        """Stop starting tasks; let running ones finish up to `grace_s`, then interrupt them.

        Interrupted attempts are stored as queued again, so the next start resumes them.
        """
        self._closing = True
        grace = self.settings.shutdown_grace_s if grace_s is None else grace_s
        pending = list(self._attempts.values())
        if pending and grace > 0:
            await asyncio.wait(pending, timeout=grace)
        for (run_id, task_id), attempt in list(self._attempts.items()):
            run = self._runs.get(run_id)
            if run is not None:
                run.tasks[task_id].stop_reason = "shutdown"
            attempt.cancel()
        if self._attempts:
            await asyncio.wait(list(self._attempts.values()), timeout=5)
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        await self._flush()
        if self._pump_task is not None:
            self._pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump_task
            self._pump_task = None
        await self.registry.aclose()

    # ---------------------------------------------------------------- runs

    async def submit(
        self,
        workflow: WorkflowVersion,
        *,
        params: dict[str, Any] | None = None,
        priority: int | None = None,
        deadline_s: float | None = None,
        trigger: str = "user",
        created_by: str | None = None,
        params_from_text: bool = False,
        run_id: str | None = None,
    ) -> RunRecord:
        """Create a run of a pinned workflow version and start it; returns once it is stored."""
        from basir.engine.params import resolve_params

        spec = WorkflowSpec.model_validate(workflow.spec)
        resolved = resolve_params(spec, params, from_text=params_from_text)
        now = time.time()
        deadline = deadline_s if deadline_s is not None else spec.deadline
        record = RunRecord(
            id=run_id or new_run_id(),
            workflow=workflow.name,
            version=workflow.version,
            status=RunStatus.QUEUED,
            params=resolved,
            priority=priority if priority is not None else spec.priority,
            deadline_at=now + deadline if deadline is not None else None,
            concurrency=spec.concurrency,
            created_at=now,
            updated_at=now,
            trigger=trigger,
            created_by=created_by,
            namespace=spec.namespace,
        )
        rows = initial_rows(record, spec, now)
        run = state_from_records(record, spec, rows)
        self._runs[run.id] = run
        insert = RunInsert(run=_copy_run(record), tasks=rows)
        self._batch.changes.append(insert)
        self._run_inserts[record.id] = insert.run
        for row in rows:
            self._row_inserts[(record.id, row.task_id)] = row
        self._event("run.queued", run, data={"trigger": trigger, "by": created_by})
        self._run_to(run, RunStatus.RUNNING, started_at=now)
        self._evaluate_ready(run)
        self._arm_deadline(run)
        await self._flush()
        return _copy_run(run.record)

    async def resume(self, run_id: str) -> RunRecord:
        """Load an interrupted run from the store and continue it where it stopped.

        Attempts that were running when the process died are queued again (they re-run once);
        retries wait out what is left of their backoff; finished tasks are kept.
        """
        if run_id in self._runs:
            return _copy_run(self._runs[run_id].record)
        record = await self.store.get_run(run_id)
        if record is None:
            raise errors.run_not_found(run_id)
        if record.status in RUN_TERMINAL:
            return record
        run = await self._load(record)
        self._runs[run.id] = run
        now = time.time()
        if run.record.status == RunStatus.QUEUED:
            self._run_to(run, RunStatus.RUNNING, started_at=now)
        for task in list(run.tasks.values()):
            if task.status == TaskStatus.RUNNING:
                self._task_to(
                    run,
                    task,
                    TaskStatus.QUEUED,
                    "task.interrupted",
                    queued_at=now,
                    data={"attempt": task.attempts},
                )
                self._push_ready(run, task)
            elif task.status == TaskStatus.QUEUED and not task.instances:
                self._push_ready(run, task)
            elif task.status == TaskStatus.RETRYING:
                self._arm_retry(run, task, max(0.0, (task.next_attempt_at or now) - now))
            if task.held and task.hold_until is not None:
                self._arm_release(run, task, task.hold_until - now)
        self._evaluate_ready(run)
        self._arm_deadline(run)
        self._settle(run)
        await self._flush()
        return _copy_run(run.record)

    async def wait(self, run_id: str) -> RunRecord:
        """Wait until the run has finished and return its final record."""
        if run_id not in self._runs:
            record = await self.store.get_run(run_id)
            if record is None:
                raise errors.run_not_found(run_id)
            return record
        future: asyncio.Future[RunRecord] = asyncio.get_running_loop().create_future()
        self._run_waiters.setdefault(run_id, []).append(future)
        return await future

    async def _load(self, record: RunRecord) -> RunState:
        version = await self.store.get_workflow(record.workflow, record.version)
        if version is None:
            raise errors.run_not_found(record.id)
        spec = WorkflowSpec.model_validate(version.spec)
        rows = await self.store.get_tasks(record.id)
        return state_from_records(record, spec, rows)

    async def cancel_run(self, run_id: str, *, by: str | None = None) -> RunRecord:
        """Cancel a live run: nothing new starts, running attempts are killed (process groups)."""
        run = await self._live(run_id)
        run.cancel_requested = True
        self._event("run.cancelling", run, data={"by": by})
        for task in list(run.tasks.values()):
            if task.status in {TaskStatus.PENDING, TaskStatus.QUEUED, TaskStatus.RETRYING}:
                timer = self._timers.pop((run.id, task.id), None)
                if timer is not None:
                    timer.cancel()
                if task.status in {TaskStatus.PENDING, TaskStatus.QUEUED, TaskStatus.RETRYING}:
                    self._finish_task(run, task, TaskStatus.CANCELLED, finished_at=time.time())
        for (attempt_run, task_id), attempt in list(self._attempts.items()):
            if attempt_run == run.id:
                run.tasks[task_id].stop_reason = "cancel"
                attempt.cancel()
        self._settle(run)
        await self._flush()
        return _copy_run(run.record)

    async def _live(self, run_id: str) -> RunState:
        """The in-memory state of an active run, loading it from the store if needed."""
        run = self._runs.get(run_id)
        if run is not None:
            return run
        record = await self.store.get_run(run_id)
        if record is None:
            raise errors.run_not_found(run_id)
        if record.status in RUN_TERMINAL:
            raise errors.run_not_active(run_id, record.status)
        await self.resume(run_id)
        return self._runs[run_id]

    # ---------------------------------------------------------------- transitions

    def _event(
        self,
        kind: str,
        run: RunState,
        task: TaskState | None = None,
        data: dict[str, Any] | None = None,
    ) -> EventRecord:
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
        self._batch.events.append(record)
        self._wake.set()
        return record

    def _run_to(
        self,
        run: RunState,
        target: RunStatus,
        data: dict[str, Any] | None = None,
        event: str | None = None,
        **fields: Any,
    ) -> None:
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
            self._batch.changes.append(
                RunUpdate(
                    run_id=run.id,
                    fields={"status": str(target), "updated_at": now, **fields},
                    from_statuses=(str(current),),
                )
            )
        if event is None:
            event = _RUN_EVENTS.get((current, target), f"run.{target}")
        self._event(event, run, data=data)

    def _task_to(
        self,
        run: RunState,
        task: TaskState,
        target: TaskStatus,
        event: str | None = None,
        data: dict[str, Any] | None = None,
        **fields: Any,
    ) -> None:
        current = task.status
        check_task_transition(current, target)
        now = time.time()
        task.status = target
        for key, value in fields.items():
            setattr(task, key, value)
        self._update_row(run, task, current, {"status": str(target), "updated_at": now, **fields})
        self._event(event or f"task.{target}", run, task, data)

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
        self._batch.changes.append(update)

    def _insert_row(self, row: TaskRecord) -> None:
        """Queue a new task row; later changes in this batch are folded into it."""
        self._row_inserts[(row.run_id, row.task_id)] = row
        self._batch.changes.append(TaskInsert(row))

    # ---------------------------------------------------------------- planning

    def _task_fields(
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
        self._event(event, run, task, data)

    def _evaluate_ready(self, run: RunState) -> None:
        """Decide every pending task whose dependencies have all ended.

        Foreach instances are left out: only their parent's expansion queues them.
        """
        for task in list(run.tasks.values()):
            if task.status == TaskStatus.PENDING and task.remaining == 0 and task.parent is None:
                self._evaluate(run, task)

    def _evaluate(self, run: RunState, task: TaskState) -> None:
        """Gate one pending task whose dependencies have ended: queue, skip, or fail it."""
        if run.cancel_requested:
            self._finish_task(run, task, TaskStatus.CANCELLED)
            return
        verdict = gate(
            task.spec.when,
            (
                upstream_of(run.tasks[need].status, run.tasks[need].spec.continue_on_error)
                for need in task.needs
            ),
        )
        if verdict.value == "run" and task.spec.if_ is not None:
            try:
                if not self.renderer.condition(task.spec.if_, run, task):
                    verdict = verdict.SKIP
            except Exception as exc:  # a bad expression fails this task, never the engine
                self._finish_task(run, task, TaskStatus.FAILED, error=exception_text(exc))
                return
        if verdict.value == "skip":
            self._finish_task(run, task, TaskStatus.SKIPPED)
        elif verdict.value == "upstream_failed":
            self._finish_task(run, task, TaskStatus.UPSTREAM_FAILED)
        elif verdict.value == "cancel":
            self._finish_task(run, task, TaskStatus.CANCELLED)
        elif task.spec.foreach is not None and task.parent is None:
            self._expand(run, task)
        else:
            self._queue(run, task)

    def _queue(self, run: RunState, task: TaskState) -> None:
        self._task_to(run, task, TaskStatus.QUEUED, queued_at=time.time())
        self._queued_events[(run.id, task.id)] = self._batch.events[-1]
        self._push_ready(run, task)

    def _expand(self, run: RunState, parent: TaskState) -> None:
        """Fan a `foreach` task out into one instance per item (reusing earlier instances)."""
        now = time.time()
        if parent.instances:  # a retried run: re-queue the instances that did not succeed
            self._task_to(run, parent, TaskStatus.QUEUED, queued_at=now)
            self._task_to(run, parent, TaskStatus.RUNNING, started_at=now)
            for instance_id in parent.instances:
                instance = run.tasks[instance_id]
                if instance.status == TaskStatus.PENDING:
                    self._queue(run, instance)
            self._settle_parent(run, parent)
            return
        try:
            items = self.renderer.foreach_items(parent.spec.foreach, run, parent)
        except Exception as exc:
            self._finish_task(run, parent, TaskStatus.FAILED, error=exception_text(exc))
            return
        if len(items) > MAX_FOREACH_ITEMS:
            message = _(
                "foreach produced {count} items; the limit is {limit}",
                count=len(items),
                limit=MAX_FOREACH_ITEMS,
            )
            self._finish_task(run, parent, TaskStatus.FAILED, error=message)
            return
        self._task_to(run, parent, TaskStatus.QUEUED, queued_at=now)
        self._task_to(
            run, parent, TaskStatus.RUNNING, started_at=now, data={"instances": len(items)}
        )
        instance_spec = parent.spec.model_copy(update={"foreach": None})
        for index, item in enumerate(items):
            instance = TaskState(
                id=f"{parent.id}[{index}]",
                spec=instance_spec,
                status=TaskStatus.PENDING,
                seq=run.next_seq,
                parent=parent.id,
                index=index,
                item=item,
            )
            run.add(instance)
            parent.instances.append(instance.id)
            self._insert_row(
                TaskRecord(
                    run_id=run.id,
                    task_id=instance.id,
                    status=TaskStatus.PENDING,
                    updated_at=now,
                    parent_id=parent.id,
                    item_index=index,
                    item=item,
                )
            )
            self._queue(run, instance)
        self._settle_parent(run, parent)

    def _settle_parent(self, run: RunState, parent: TaskState) -> None:
        """End a foreach parent once all its instances have ended."""
        if parent.status != TaskStatus.RUNNING or parent.open_instances > 0:
            return
        instances = [run.tasks[i] for i in parent.instances]
        status = aggregate_instances((i.status for i in instances), parent.spec.continue_on_error)
        outputs = {"items": [i.outputs for i in instances]}
        self._finish_task(run, parent, status, outputs=outputs, finished_at=time.time())

    def _finish_task(
        self, run: RunState, task: TaskState, status: TaskStatus, **fields: Any
    ) -> None:
        """Move a task to a final state and let its dependants and its run react."""
        self._task_to(run, task, status, **fields)
        run.unfinished -= 1
        if task.parent is not None:
            parent = run.tasks[task.parent]
            parent.open_instances -= 1
            self._settle_parent(run, parent)
        for dependent_id in task.dependents:
            dependent = run.tasks[dependent_id]
            dependent.remaining -= 1
            if dependent.remaining == 0 and dependent.status == TaskStatus.PENDING:
                self._evaluate(run, dependent)
        self._settle(run)

    def _settle(self, run: RunState) -> None:
        """Finish the run once no task is left unfinished."""
        if run.unfinished > 0 or RunStatus(run.record.status) in RUN_TERMINAL:
            return
        outcome = run_outcome(
            ((t.status, t.spec.continue_on_error) for t in run.tasks.values() if t.parent is None),
            run.cancel_requested,
        )
        if run.record.status == RunStatus.QUEUED:
            self._run_to(run, RunStatus.RUNNING, started_at=time.time())
        self._run_to(run, outcome, finished_at=time.time())
        self._finished_runs.append(run)

    # ---------------------------------------------------------------- dispatch

    def _push_ready(self, run: RunState, task: TaskState) -> None:
        if task.held:
            return
        self._seq += 1
        key = order_key(
            run.record.priority, run.record.deadline_at, task.queued_at or 0.0, self._seq
        )
        heapq.heappush(self._ready, (key, run.id, task.id))
        self._wake.set()

    def _unpark(self, run: RunState) -> None:
        while run.parked:
            task = run.tasks.get(run.parked.popleft())
            if task is not None and task.status == TaskStatus.QUEUED:
                self._push_ready(run, task)

    def _dispatch(self) -> None:
        """Start queued tasks in queue order while global and per-run limits allow."""
        if self._closing:
            return
        limit = self.settings.max_parallel
        while self._ready and self._slots_used < limit:
            _key, run_id, task_id = heapq.heappop(self._ready)
            run = self._runs.get(run_id)
            task = run.tasks.get(task_id) if run is not None else None
            if run is None or task is None or task.status != TaskStatus.QUEUED or task.held:
                continue
            blocked = run.record.status != RunStatus.RUNNING or (
                run.record.concurrency is not None and run.running >= run.record.concurrency
            )
            if blocked:
                run.parked.append(task.id)
                continue
            self._start_attempt(run, task)

    def _start_attempt(self, run: RunState, task: TaskState) -> None:
        # Queued and started in one commit: the store only ever sees the task go from its
        # earlier state to running (one folded write), so only `task.started` is recorded.
        queued = self._queued_events.pop((run.id, task.id), None)
        if queued is not None:
            self._dropped_events.add(id(queued))
        now = time.time()
        if self.metrics is not None and task.queued_at is not None:
            self.metrics.observe_schedule_latency(max(0.0, now - task.queued_at))
        self._task_to(
            run,
            task,
            TaskStatus.RUNNING,
            "task.started",
            attempts=task.attempts + 1,
            attempt_id=uuid.uuid4().hex,
            started_at=now,
            finished_at=None,
            error=None,
        )
        task.stop_reason = None
        run.running += 1
        self._slots_used += 1
        self._launch.append((run, task))

    # ---------------------------------------------------------------- the pump

    async def _pump(self) -> None:
        while True:
            await self._wake.wait()
            # One more turn of the loop first: attempts whose results are already queued as
            # callbacks (many threads finishing at once) join this commit instead of the next.
            await asyncio.sleep(0)
            self._wake.clear()
            self._dispatch()
            await self._commit()

    async def _commit(self) -> None:
        """Write the pending batch, then publish its events and launch its attempts."""
        if not self._batch:
            _resolve(self._commit_waiters)
            self._commit_waiters = []
            return
        batch, self._batch = self._batch, Batch()
        self._row_updates, self._row_inserts, self._run_inserts = {}, {}, {}
        if self._dropped_events:
            batch.events = [e for e in batch.events if id(e) not in self._dropped_events]
        self._queued_events, self._dropped_events = {}, set()
        launch, self._launch = self._launch, []
        finished, self._finished_runs = self._finished_runs, []
        waiters, self._commit_waiters = self._commit_waiters, []
        started = time.perf_counter()
        try:
            events = await self.store.write(batch)
        except Exception as exc:
            log.exception("store write failed; the engine stops dispatching")
            self._closing = True
            _resolve(waiters, exc)
            return
        if self.metrics is not None:
            self.metrics.observe_commit(time.perf_counter() - started)
        self.bus.publish(events)
        for run, task in launch:
            self._begin(run, task)
        for run in finished:
            self._runs.pop(run.id, None)
            deadline = self._timers.pop((run.id, "deadline"), None)
            if deadline is not None:
                deadline.cancel()
            for future in self._run_waiters.pop(run.id, []):
                if not future.done():
                    future.set_result(_copy_run(run.record))
        _resolve(waiters)

    async def _flush(self) -> None:
        """Wait until everything changed so far is committed (and published)."""
        if self._pump_task is None:
            self._dispatch()
            await self._commit()
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._commit_waiters.append(future)
        self._wake.set()
        await future

    # ---------------------------------------------------------------- timers

    def _arm_deadline(self, run: RunState) -> None:
        """Record `deadline.missed` once if the run is still going when its deadline passes."""
        deadline_at = run.record.deadline_at
        if deadline_at is None or (run.id, "deadline") in self._timers:
            return

        def fire() -> None:
            self._timers.pop((run.id, "deadline"), None)
            if self._runs.get(run.id) is run and run.record.status not in RUN_TERMINAL:
                self._event("deadline.missed", run, data={"deadline_at": deadline_at})

        delay = max(0.0, deadline_at - time.time())
        self._timers[(run.id, "deadline")] = asyncio.get_running_loop().call_later(delay, fire)

    def _arm_retry(self, run: RunState, task: TaskState, delay_s: float) -> None:
        def fire() -> None:
            self._timers.pop((run.id, task.id), None)
            if task.status == TaskStatus.RETRYING and self._runs.get(run.id) is run:
                self._queue(run, task)

        self._timers[(run.id, task.id)] = asyncio.get_running_loop().call_later(delay_s, fire)

    def _release(self, run: RunState, task: TaskState, by: str | None) -> None:
        if not task.held:
            return
        timer = self._timers.pop((run.id, f"hold:{task.id}"), None)
        if timer is not None:
            timer.cancel()
        self._task_fields(run, task, "task.released", data={"by": by}, held=False, hold_until=None)
        if task.status == TaskStatus.QUEUED:
            self._push_ready(run, task)

    def _arm_release(self, run: RunState, task: TaskState, delay_s: float) -> None:
        def fire() -> None:
            self._timers.pop((run.id, f"hold:{task.id}"), None)
            if self._runs.get(run.id) is run and task.held:
                self._release(run, task, "schedule")

        key = (run.id, f"hold:{task.id}")
        previous = self._timers.pop(key, None)
        if previous is not None:
            previous.cancel()
        self._timers[key] = asyncio.get_running_loop().call_later(max(0.0, delay_s), fire)

    # ---------------------------------------------------------------- attempts

    def _begin(self, run: RunState, task: TaskState) -> None:
        """Start one attempt of a task whose `running` state is committed (`engine.attempts`)."""
        raise NotImplementedError


# Event types of run transitions whose name is not simply `run.<target status>`.
_RUN_EVENTS = {
    (RunStatus.QUEUED, RunStatus.RUNNING): "run.started",
    (RunStatus.PAUSED, RunStatus.RUNNING): "run.resumed",
    (RunStatus.FAILED, RunStatus.RUNNING): "run.retried",
    (RunStatus.CANCELLED, RunStatus.RUNNING): "run.retried",
}


def _resolve(waiters: list[asyncio.Future[None]], error: Exception | None = None) -> None:
    for waiter in waiters:
        if not waiter.done():
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(error)


def _copy_run(record: RunRecord) -> RunRecord:
    return dataclasses.replace(record)


def exception_text(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return f"{type(exc).__name__}: {message}" if not getattr(exc, "code", None) else message
