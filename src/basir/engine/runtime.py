"""`Engine`: runs workflows durably on one store, in this process, and lets users steer them.

The engine is a few collaborators wired in its constructor, each with one job:

- `Journal` (`engine.journal`): records transitions and events, folds them into batches and
  commits each batch before anything in it becomes visible;
- `Flow` (`engine.flow`): the active runs; decides tasks with the pure DAG progression
  (`engine.progression`, `engine.rules`), dispatches from the `ReadyQueue`
  (`scheduler.ready_queue`), arms `Timers` (`engine.timers`) and reacts to attempts' ends;
- `AttemptRunner` (`engine.attempts`): runs one attempt's body on its executor;
- `DeadlineWatch` (`engine.deadlines`): `deadline.at_risk` and task `deadline.missed`;
- `UsageWatch` (`engine.usage_watch`) and `Sweeper` (`engine.sweeper`): live usage with memory
  limits, and the cleanup of what ended attempts leaked.

This class holds the lifecycle (`start`, `stop`, the pump that dispatches and commits) and the
public API; every control is persisted with an event naming who did it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
import time
from pathlib import Path
from typing import Any

from basir.config import Settings
from basir.engine import controls, errors, resource_policies
from basir.engine.attempts import AttemptRunner
from basir.engine.deadlines import DeadlineWatch
from basir.engine.flow import Flow
from basir.engine.health import EngineHealth
from basir.engine.journal import Journal, Metrics, exception_text, resolve
from basir.engine.leftovers import requeue_resumed, stop_interrupted
from basir.engine.memory_limits import MemoryLimits
from basir.engine.params import resolve_params
from basir.engine.pool_config import POOL_KIND, checked_capacity
from basir.engine.queue_limits import load_overrides
from basir.engine.rendering import Renderer
from basir.engine.run_fit import added_tasks, refuse_unfit
from basir.engine.run_gate import RunGate
from basir.engine.state import RunState, TaskState, initial_rows, state_from_records, task_record
from basir.engine.sweeper import Sweeper
from basir.engine.usage_watch import UsageWatch
from basir.errors import ConflictError
from basir.events.bus import EventBus
from basir.executors.registry import ExecutorRegistry, default_registry
from basir.i18n import _
from basir.spec.models import WorkflowSpec
from basir.states import RUN_TERMINAL, RunStatus
from basir.store.base import Store
from basir.store.records import RunRecord, TaskRecord, WorkflowVersion

__all__ = ["Engine", "EngineHealth", "new_run_id"]

log = logging.getLogger(__name__)


def new_run_id() -> str:
    """A time-sortable, unguessable run id (milliseconds in hex + 40 random bits)."""
    return f"{int(time.time() * 1000):011x}{secrets.token_hex(5)}"


class Engine:
    """Runs workflows durably on one store, and lets users steer the live ones."""

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
        self.registry = registry or default_registry(settings)
        self.workdir = workdir or Path.cwd()
        self.renderer = Renderer(
            settings.template_dirs, self.workdir, env_allow=settings.task_env_allow
        )
        self._wake = asyncio.Event()
        self.journal = Journal(store, self.bus, self._wake.set, metrics)
        runner = AttemptRunner(
            settings, self.registry, self.renderer, store, self, self.journal, self._flush
        )
        self.flow = Flow(settings, self.journal, self.renderer, runner, self._stop_on_fault)
        self.deadlines = DeadlineWatch(store, self.flow)
        self.memory = MemoryLimits(settings, self.flow, self.journal)  # mode, per-attempt limit
        runner.memory = self.memory
        self.usage = UsageWatch(self.flow, self.journal, store, settings, self.memory)
        runner.peak_rss = self.usage.peak_rss
        self.sweeper = Sweeper(self.flow, self.journal, settings)  # what ended tasks leaked
        self.sweeper.stale_cgroups = self.memory.sweep
        self.gate = RunGate(self.flow)  # max_active_runs, workflow concurrency keys
        self.metrics = metrics
        self._run_waiters: dict[str, list[asyncio.Future[RunRecord]]] = {}
        self._pump_task: asyncio.Task[None] | None = None
        self.fault: str | None = None  # set once the engine stopped on an error of its own

    @property
    def metrics(self) -> Metrics | None:
        """Where task, latency and commit measurements go (None: nowhere)."""
        return self.flow.metrics

    @metrics.setter
    def metrics(self, metrics: Metrics | None) -> None:
        self.flow.metrics = metrics
        self.journal.metrics = metrics

    @property
    def store_retrying(self) -> str | None:
        """The transient store error the engine is waiting out, if any."""
        return self.journal.store_retrying

    def health(self) -> EngineHealth:
        """What `/readyz` reports: is the pump alive, is the store being waited for."""
        pump = self._pump_task
        alive = pump is not None and not pump.done() and self.fault is None
        return EngineHealth(pump_alive=alive, store_retrying=self.store_retrying, fault=self.fault)

    def live_record(self, run_id: str) -> RunRecord | None:
        """The in-memory record of an active run, if this engine holds it."""
        run = self.flow.runs.get(run_id)
        return run.record if run is not None else None

    # ---------------------------------------------------------------- lifecycle

    async def start(self, *, resume: bool = True) -> None:
        """Start the pump; with `resume`, pick up every active run of the store."""
        for pool, override in await self.store.kv_list(POOL_KIND):
            self.flow.admission.set_capacity(pool, override["capacity"], self.flow.push_ready)
        await load_overrides(self.store, self.flow.admission)  # queue limits set at run time
        await resource_policies.attach(self, self._wake.set)
        if self._pump_task is None:
            self._pump_task = asyncio.create_task(self._pump(), name="basir-engine-pump")
        self.usage.start()
        self.sweeper.start()
        if resume:
            # Runs that were already active are counted before any queued one is admitted.
            runs = sorted(await self.store.active_runs(), key=lambda r: r.status == "queued")
            for record in runs:
                if record.id not in self.flow.runs:
                    await self.resume(record.id)

    async def stop(self, grace_s: float | None = None) -> None:
        """Stop starting tasks; let running ones finish up to `grace_s`, then interrupt them.

        Interrupted attempts are stored as queued again, so the next start resumes them.
        """
        flow = self.flow
        flow.closing = True
        grace = self.settings.shutdown_grace_s if grace_s is None else grace_s
        pending = list(flow.attempts.values())
        if pending and grace > 0:
            await asyncio.wait(pending, timeout=grace)
        for (run_id, task_id), attempt in list(flow.attempts.items()):
            run = flow.runs.get(run_id)
            if run is not None:
                run.tasks[task_id].stop_reason = "shutdown"
            attempt.cancel()
        if flow.attempts:
            await asyncio.wait(list(flow.attempts.values()), timeout=5)
        await self.deadlines.stop()
        await self.usage.stop()
        await self.sweeper.stop()
        flow.timers.clear()
        if self.fault is None:  # after a fault nothing more is written: resume starts afresh
            await self._flush()
        if self._pump_task is not None:
            self._pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump_task
            self._pump_task = None
        await self.registry.aclose()

    async def _pump(self) -> None:
        """Dispatch and commit in a loop until stopped, or until an error of the engine's own.

        A fault here leaves the engine's state unknown: it stops for good (`self.fault`),
        every waiter gets the error, and the store still holds the last committed state, from
        which `resume` continues.  Nothing is left as an unretrieved task exception.
        """
        try:
            while True:
                await self._wake.wait()
                # One more turn of the loop first: attempts whose results are already queued
                # as callbacks (many threads finishing at once) join this commit, not the next.
                await asyncio.sleep(0)
                self._wake.clear()
                self.flow.dispatch()
                await self._commit()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._stop_on_fault(exc)

    async def _commit(self) -> None:
        """Commit the pending batch, then launch its attempts and tell its finished runs."""
        pending = await self.journal.commit()
        self.flow.launch_all(pending.launch)
        for run in pending.finished:
            self._observe_run(run)
            self.flow.runs.pop(run.id, None)
            self.flow.timers.cancel((run.id, "deadline"))
            self.gate.leave(run)
            self.flow.admission.run_ended(run, self.flow.push_ready)
            for future in self._run_waiters.pop(run.id, []):
                if not future.done():
                    future.set_result(_copy_run(run.record))
        resolve(pending.waiters)

    def _observe_run(self, run: RunState) -> None:
        """Count a run whose final state is now durable."""
        if self.metrics is None:
            return
        try:
            self.metrics.observe_run(str(run.record.status), run.record.workflow)
        except Exception:  # monitoring never stops the engine
            log.exception("metrics failed")

    async def _flush(self) -> None:
        """Wait until everything changed so far is committed (and published)."""
        if self.fault is not None:
            raise errors.engine_fault(self.fault)
        if self._pump_task is None:
            self.flow.dispatch()
            await self._commit()
            return
        future = self.journal.waiter()
        self._wake.set()
        await future

    def _stop_on_fault(self, exc: BaseException) -> None:
        """The engine's state is unknown: stop for good and tell every waiter.

        The store holds the last committed state; a new engine's `resume` continues from it.
        """
        if self.fault is None:
            self.fault = exception_text(exc)
            log.critical("the engine stops: %s", self.fault, exc_info=exc)
        self.flow.closing = True
        fault = errors.engine_fault(self.fault)
        self.journal.fail_waiters(fault)
        for futures in self._run_waiters.values():
            for future in futures:
                if not future.done():
                    future.set_exception(fault)
        self._run_waiters.clear()

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
        need = self.gate.need(run)  # a bad concurrency key is refused before anything is kept
        refuse_unfit(self, spec)  # a task that could never start: refused, not left waiting
        resource_policies.refuse_run(self, spec.namespace, now)
        self.flow.runs[run.id] = run
        self.journal.insert_run(record, rows)
        self.journal.event("run.queued", run, data={"trigger": trigger, "by": created_by})
        if self.gate.enter(run, need):
            self.gate.start(run)
        self.flow.arm_deadline(run)
        self.deadlines.watch(run)
        await self._flush()
        return _copy_run(run.record)

    async def resume(self, run_id: str) -> RunRecord:
        """Load an interrupted run from the store and continue it where it stopped.

        Attempts that were running when the process died are queued again (they re-run once),
        after what is left of their process groups is stopped (`engine.leftovers`); retries
        wait out what is left of their backoff; finished tasks are kept.
        """
        flow = self.flow
        if run_id in flow.runs:
            return _copy_run(flow.runs[run_id].record)
        record = await self.store.get_run(run_id)
        if record is None:
            raise errors.run_not_found(run_id)
        if record.status in RUN_TERMINAL:
            return record
        run = await self._load(record)
        # Before anything is queued again: no leftover process of an interrupted attempt lives.
        stopped = await stop_interrupted(run)
        if run_id in flow.runs:  # resumed by someone else meanwhile
            return _copy_run(flow.runs[run_id].record)
        flow.runs[run.id] = run
        now = time.time()
        if run.record.status != RunStatus.QUEUED:
            self.gate.adopt(run)
        elif not self.gate.resumed(run, self.deadlines.watch):
            await self._flush()
            return _copy_run(run.record)
        requeue_resumed(flow, run, stopped, now)
        flow.evaluate_ready(run)
        flow.arm_deadline(run)
        self.deadlines.watch(run)
        flow.settle(run)
        await self._flush()
        return _copy_run(run.record)

    async def wait(self, run_id: str) -> RunRecord:
        """Wait until the run has finished and return its final record."""
        if self.fault is not None and run_id in self.flow.runs:
            raise errors.engine_fault(self.fault)
        if run_id not in self.flow.runs:
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

    async def _live(self, run_id: str) -> RunState:
        """The in-memory state of an active run, loading it from the store if needed."""
        run = self.flow.runs.get(run_id)
        if run is not None:
            return run
        record = await self.store.get_run(run_id)
        if record is None:
            raise errors.run_not_found(run_id)
        if record.status in RUN_TERMINAL:
            raise errors.run_not_active(run_id, record.status)
        await self.resume(run_id)
        return self.flow.runs[run_id]

    # ---------------------------------------------------------------- controls

    async def cancel_run(self, run_id: str, *, by: str | None = None) -> RunRecord:
        """Cancel a live run: nothing new starts, running attempts are killed (process groups)."""
        run = await self._live(run_id)
        controls.cancel(self.flow, run, by)
        await self._flush()
        return _copy_run(run.record)

    async def pause_run(self, run_id: str, *, by: str | None = None) -> RunRecord:
        """No new task of the run starts; running ones finish."""
        run = await self._live(run_id)
        self.gate.refuse_pause(run)
        if run.record.status != RunStatus.PAUSED:
            self.journal.run_to(run, RunStatus.PAUSED, data={"by": by})
            await self._flush()
        return _copy_run(run.record)

    async def resume_run(self, run_id: str, *, by: str | None = None) -> RunRecord:
        """Undo a pause: parked tasks are queued again in queue order."""
        run = await self._live(run_id)
        if run.record.status == RunStatus.PAUSED:
            self.journal.run_to(run, RunStatus.RUNNING, data={"by": by})
            self.flow.unpark(run)
            await self._flush()
        return _copy_run(run.record)

    async def retry_run(self, run_id: str, *, by: str | None = None) -> RunRecord:
        """Re-run a finished run's failed and cancelled tasks in place, keeping the rest."""
        if run_id in self.flow.runs:
            raise errors.run_not_finished(run_id, self.flow.runs[run_id].record.status)
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
        self.gate.retry(run)  # within max_active_runs and the workflow's concurrency key
        self.flow.runs[run.id] = run
        controls.retry(self.flow, run, by)
        await self._flush()
        return _copy_run(run.record)

    async def add_tasks(
        self, run_id: str, tasks: list[dict[str, Any]], *, by: str | None = None
    ) -> RunRecord:
        """Add tasks to a live run: still acyclic, `needs` only on known tasks, ids new."""
        run = await self._live(run_id)
        added = added_tasks(self, run, tasks)  # pools, quota, queues, templates checked
        controls.add(self.flow, run, added, by)
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
        controls.hold(self.flow, run, task, stop_running=stop_running, resume_at=resume_at, by=by)
        await self._flush()
        return task_record(run.id, task)

    async def resume_task(self, run_id: str, task_id: str, *, by: str | None = None) -> TaskRecord:
        """Release a held task: it starts when its turn comes."""
        run = await self._live(run_id)
        task = _task_of(run, task_id)
        self.flow.release(run, task, by)
        await self._flush()
        return task_record(run.id, task)

    # ---------------------------------------------------------------- resources

    async def set_pool_capacity(self, pool: str, capacity: object) -> dict[str, Any]:
        """Set a pool's capacity now (cores for cpu, a size for memory, slots); a new name
        adds a custom pool of that many slots.

        Kept in the store (kv `resource_pool`) so it holds across restarts; lowering it takes
        nothing back from running tasks, raising it offers the waiting ones again at once.
        Returns the pool as `resources_status` shows it.
        """
        capacity = checked_capacity(pool, capacity, self.flow.admission.allocator.capacity)
        await self.store.kv_put(POOL_KIND, pool, {"capacity": capacity})
        self.flow.admission.set_capacity(pool, capacity, self.flow.push_ready)
        self._wake.set()
        return next(p for p in self.resources_status()["pools"] if p["name"] == pool)

    def pool_settings(self) -> dict[str, float]:
        """Every pool's capacity now, as configured (cores, bytes, slots): what applies check."""
        return {p["name"]: p["capacity"] for p in self.resources_status()["pools"]}

    def resources_status(self) -> dict[str, Any]:
        """Pools with capacity, in use and holders; waiting tasks with their reasons."""
        return self.usage.annotate(self.flow.admission.status())


def _task_of(run: RunState, task_id: str) -> TaskState:
    task = run.tasks.get(task_id)
    if task is None:
        raise errors.task_not_found(run.id, task_id)
    return task


def _copy_run(record: RunRecord) -> RunRecord:
    return dataclasses.replace(record)
