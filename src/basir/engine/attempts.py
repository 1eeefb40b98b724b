"""Running attempts: render the body, call the executor under a timeout, judge the outcome.

A failed attempt is retried with backoff while its budget lasts; a cancelled one ends the task,
unless the runtime stopped it on purpose (shutdown, task pause), which queues it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from pathlib import Path
from typing import Any

from basir.engine.core import EngineCore, exception_text
from basir.engine.rules import after_failure
from basir.engine.state import RunState, TaskState
from basir.engine.states import RunStatus, TaskStatus
from basir.executors.base import TaskContext, TaskFailure
from basir.i18n import _


class AttemptsEngine(EngineCore):
    """The engine core plus the execution of attempts."""

    def _begin(self, run: RunState, task: TaskState) -> None:
        attempt = asyncio.create_task(self._attempt(run, task), name=f"{run.id}/{task.id}")
        self._attempts[(run.id, task.id)] = attempt
        attempt.add_done_callback(functools.partial(self._reap, run, task))

    def _reap(self, run: RunState, task: TaskState, attempt: asyncio.Task[None]) -> None:
        """Account for an attempt cancelled before its first step (its body never ran).

        `_attempt` handles every cancellation it sees itself, so a task that ends `cancelled()`
        is one whose coroutine never started: without this, its slot would leak and the task
        would stay `running` for ever.
        """
        if not attempt.cancelled() or self._attempts.get((run.id, task.id)) is not attempt:
            return
        self._attempts.pop((run.id, task.id), None)
        run.running -= 1
        self._slots_used -= 1
        self._attempt_ended(run, task, TaskStatus.CANCELLED, {}, None)

    async def _attempt(self, run: RunState, task: TaskState) -> None:
        """Run one attempt of a task and record how it ended."""
        started = time.perf_counter()
        outcome: TaskStatus
        outputs: dict[str, Any] = {}
        error: str | None = None
        try:
            outputs = await self._execute(run, task)
            outcome = TaskStatus.SUCCEEDED
        except TaskFailure as failure:
            outcome, outputs, error = TaskStatus.FAILED, failure.outputs, failure.message
            if failure.detail:
                error = f"{failure.message}\n{failure.detail}"
        except TimeoutError:
            timeout = self._timeout_of(run, task)
            outcome, error = TaskStatus.FAILED, _("timed out after {seconds}s", seconds=timeout)
        except asyncio.CancelledError:
            outcome = TaskStatus.CANCELLED
        except Exception as exc:  # a broken body or executor fails the task, not the engine
            outcome, error = TaskStatus.FAILED, exception_text(exc)
        finally:
            self._attempts.pop((run.id, task.id), None)
            run.running -= 1
            self._slots_used -= 1
        if self.metrics is not None:
            self.metrics.observe_task(time.perf_counter() - started, str(outcome))
        self._attempt_ended(run, task, outcome, outputs, error)

    def _timeout_of(self, run: RunState, task: TaskState) -> float | None:
        return task.spec.timeout if task.spec.timeout is not None else run.spec.defaults.timeout

    async def _execute(self, run: RunState, task: TaskState) -> dict[str, Any]:
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
        )
        timeout = self._timeout_of(run, task)
        if timeout is None:
            return await executor.execute(body, context)
        async with asyncio.timeout(timeout):
            return await executor.execute(body, context)

    async def _run_child(
        self, run: RunState, task: TaskState, body: dict[str, Any]
    ) -> dict[str, Any]:
        """A `workflow:` task starts a child run of the named workflow and waits for it."""
        version = await self.store.get_workflow(body["workflow"])
        if version is None:
            raise TaskFailure(_("no workflow named {name}", name=body["workflow"]))
        child = await self.submit(
            version,
            params=body.get("with") or {},
            trigger=f"run:{run.id}",
            created_by=run.record.created_by,
        )
        try:
            final = await self.wait(child.id)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await self.cancel_run(child.id, by=f"run:{run.id}")
            raise
        outputs = {"run_id": child.id, "status": final.status}
        if final.status != RunStatus.SUCCEEDED:
            raise TaskFailure(
                _("child run {run_id} ended {status}", run_id=child.id, status=_(final.status)),
                outputs=outputs,
            )
        return outputs

    def _attempt_ended(
        self,
        run: RunState,
        task: TaskState,
        outcome: TaskStatus,
        outputs: dict[str, Any],
        error: str | None,
    ) -> None:
        now = time.time()
        reason, task.stop_reason = task.stop_reason, None
        self._unpark(run)
        if outcome == TaskStatus.CANCELLED and reason in {"shutdown", "pause"}:
            # Interrupted on purpose: queued again without spending a retry.
            self._task_to(
                run,
                task,
                TaskStatus.QUEUED,
                "task.interrupted",
                queued_at=now,
                attempts=task.attempts - 1 if reason == "pause" else task.attempts,
                data={"reason": reason},
            )
            if reason == "pause":
                self._push_ready(run, task)
            return
        if outcome == TaskStatus.SUCCEEDED:
            self._finish_task(run, task, outcome, outputs=outputs, finished_at=now)
        elif outcome == TaskStatus.CANCELLED:
            self._finish_task(run, task, outcome, finished_at=now, error=_("cancelled"))
        else:
            verdict = after_failure(
                task.spec.retries or run.spec.defaults.retries,
                task.attempts,
                self._random.random(),
            )
            if verdict.status == TaskStatus.RETRYING and not run.cancel_requested:
                self._task_to(
                    run,
                    task,
                    TaskStatus.RETRYING,
                    error=error,
                    outputs=outputs,
                    next_attempt_at=now + verdict.delay_s,
                    data={"error": error, "delay_s": round(verdict.delay_s, 3)},
                )
                self._arm_retry(run, task, verdict.delay_s)
            else:
                self._finish_task(
                    run, task, TaskStatus.FAILED, error=error, outputs=outputs, finished_at=now
                )
