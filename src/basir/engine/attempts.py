"""The attempt runner: render a task's body, run it on its executor under its timeout.

It answers how one attempt ended (`AttemptResult`) and nothing else: what follows (retry,
failure, the next tasks) is the flow's decision (`engine.flow`).  A `workflow:` body starts a
child run through the engine and waits for it; child runs nest at most `MAX_WORKFLOW_DEPTH`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from basir.config import Settings
from basir.engine.journal import Journal, exception_text
from basir.engine.rendering import Renderer
from basir.engine.state import RunState, TaskState
from basir.executors.base import TaskContext, TaskFailure
from basir.executors.registry import ExecutorRegistry
from basir.i18n.deferred import defer, lazy, stored_error
from basir.log_context import enter_attempt, leave_attempt
from basir.states import RunStatus, TaskStatus
from basir.store.base import Store
from basir.store.records import RunRecord, WorkflowVersion

if TYPE_CHECKING:
    from basir.engine.memory_limits import MemoryLimits
    from basir.executors.memory import MemoryLimit

# A child run is at most this many levels below its top-level run (DESIGN §2 invariant 6).
MAX_WORKFLOW_DEPTH = 10
CHILD_TRIGGER = "run:"


class ChildRuns(Protocol):
    """What the runner needs of the engine to run a `workflow:` task."""

    async def submit(
        self,
        workflow: WorkflowVersion,
        *,
        params: dict[str, Any] | None = None,
        trigger: str = "user",
        created_by: str | None = None,
    ) -> RunRecord: ...
    async def wait(self, run_id: str) -> RunRecord: ...
    async def cancel_run(self, run_id: str, *, by: str | None = None) -> RunRecord: ...
    def live_record(self, run_id: str) -> RunRecord | None: ...


@dataclass(slots=True)
class AttemptResult:
    """How one attempt ended."""

    outcome: TaskStatus
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


class AttemptRunner:
    """Runs one attempt's body and reports how it ended; never raises but for cancellation."""

    def __init__(
        self,
        settings: Settings,
        registry: ExecutorRegistry,
        renderer: Renderer,
        store: Store,
        children: ChildRuns,
        journal: Journal,
        flush: Callable[[], Awaitable[None]],
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.renderer = renderer
        self.store = store
        self.children = children
        self.journal = journal
        self._flush = flush  # waits until everything recorded so far is committed
        self._logs_root = str(settings.logs_dir)
        # Set by the engine once its flow exists: each attempt's memory limit, stops for it.
        self.memory: MemoryLimits | None = None
        self.peak_rss: Callable[[RunState, TaskState], int | None] = lambda _run, _task: None

    async def run(self, run: RunState, task: TaskState) -> AttemptResult:
        """Run the body; a failure, timeout or broken executor becomes a failed result.

        An attempt the usage sampler stopped for its memory fails with that reason
        (`task.memory_exceeded`), not with the signal that killed it; so does one the kernel
        stopped at its limit (a `TaskFailure` with reason `oom`).
        """
        task.memory_exceeded = None
        ids = enter_attempt(run.id, task.id, task.attempts)
        limit = self.memory.for_attempt(run, task) if self.memory is not None else None
        try:
            outputs = await self._execute(run, task, limit)
            if task.memory_exceeded is None:
                return AttemptResult(TaskStatus.SUCCEEDED, outputs)
            return AttemptResult(TaskStatus.FAILED, outputs, task.memory_exceeded)
        except TaskFailure as failure:
            if task.memory_exceeded is not None:
                return AttemptResult(TaskStatus.FAILED, failure.outputs, task.memory_exceeded)
            if failure.reason == "oom" and limit is not None and self.memory is not None:
                error = stored_error(self.memory.message(limit), failure.detail)
                used = self.peak_rss(run, task)
                self.memory.stopped(run, task, limit.limit_bytes, used, limit.mode)
                return AttemptResult(TaskStatus.FAILED, failure.outputs, error)
            error = stored_error(failure.lazy or failure.message, failure.detail)
            return AttemptResult(TaskStatus.FAILED, failure.outputs, error)
        except TimeoutError:
            timeout = self.timeout_of(run, task)
            return AttemptResult(
                TaskStatus.FAILED, error=defer("timed out after {seconds}s", seconds=timeout)
            )
        except asyncio.CancelledError:
            return AttemptResult(TaskStatus.CANCELLED)
        except Exception as exc:  # a broken body or executor fails the task, not the engine
            return AttemptResult(TaskStatus.FAILED, error=exception_text(exc))
        finally:
            leave_attempt(ids)

    def timeout_of(self, run: RunState, task: TaskState) -> float | None:
        """The task's timeout, else the workflow default, else none."""
        return task.spec.timeout if task.spec.timeout is not None else run.spec.defaults.timeout

    async def _execute(
        self, run: RunState, task: TaskState, limit: MemoryLimit | None = None
    ) -> dict[str, Any]:
        kind, body = self.renderer.body(run, task)
        if kind == "workflow":
            return await self._run_child(run, task, body)
        executor = self.registry.get(kind)
        context = TaskContext(
            run_id=run.id,
            task_id=task.id,
            attempt=task.attempts,
            attempt_id=task.attempt_id or "",
            workflow=run.record.workflow,
            workdir=self.renderer.workdir_of(run, task),
            log_path=Path(f"{self._logs_root}/{run.id}/{task.id}.log"),  # one Path, not three
            env=self.renderer.env_of(run, task),
            base_env=self.renderer.process_env,
            output_cap_bytes=self.settings.output_cap_bytes,
            on_spawn=functools.partial(self._record_spawn, run, task),
            memory_limit=limit,
        )
        timeout = self.timeout_of(run, task)
        if timeout is None:
            return await executor.execute(body, context)
        async with asyncio.timeout(timeout):
            return await executor.execute(body, context)

    async def _record_spawn(
        self, run: RunState, task: TaskState, pgid: int, start_ticks: int | None
    ) -> None:
        """Make the attempt's process durable before its body starts (no twin attempts).

        Called by an executor that starts a process, while that process waits at its gate;
        after a crash, `resume` finds the group here and stops it before re-queueing the task.
        """
        self.journal.task_row(run, task, attempt_pgid=pgid, attempt_proc_start=start_ticks)
        await self._flush()

    async def _run_child(
        self, run: RunState, task: TaskState, body: dict[str, Any]
    ) -> dict[str, Any]:
        """A `workflow:` task starts a child run of the named workflow and waits for it.

        Child runs nest at most `MAX_WORKFLOW_DEPTH` deep (a workflow calling itself would
        otherwise nest for ever); the task that would go deeper fails and says so.
        """
        version = await self.store.get_workflow(body["workflow"])
        if version is None:
            raise TaskFailure(lazy("no workflow named {name}", name=body["workflow"]))
        if await self._depth_of(run.record) >= MAX_WORKFLOW_DEPTH:
            raise TaskFailure(
                lazy(
                    "workflows nest at most {limit} deep: run {run_id} cannot start a child",
                    limit=MAX_WORKFLOW_DEPTH,
                    run_id=run.id,
                )
            )
        child = await self.children.submit(
            version,
            params=body.get("with") or {},
            trigger=f"{CHILD_TRIGGER}{run.id}",
            created_by=run.record.created_by,
        )
        try:
            final = await self.children.wait(child.id)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await self.children.cancel_run(child.id, by=f"run:{run.id}")
            raise
        outputs = {"run_id": child.id, "status": final.status}
        if final.status != RunStatus.SUCCEEDED:
            raise TaskFailure(
                lazy(
                    "child run {run_id} ended {status}",
                    run_id=child.id,
                    status=lazy(str(final.status)),
                ),
                outputs=outputs,
            )
        return outputs

    async def _depth_of(self, record: RunRecord) -> int:
        """How many parent runs lie above this run (0 for a top-level run).

        Follows `trigger: run:<id>` upwards one stored run at a time, in a bounded loop.
        """
        depth = 0
        while record.trigger.startswith(CHILD_TRIGGER) and depth <= MAX_WORKFLOW_DEPTH:
            parent_id = record.trigger.removeprefix(CHILD_TRIGGER)
            parent = self.children.live_record(parent_id) or await self.store.get_run(parent_id)
            if parent is None:
                break
            record, depth = parent, depth + 1
        return depth
