"""The flow: moves active runs forward — decides tasks, dispatches attempts, reacts to ends.

It applies the pure decisions (`engine.progression`, `engine.rules`) through the journal, walks
the DAG with a worklist (a 10,000-task chain never recurses), starts attempts from the ready
queue within the global and per-run limits, and arms timers.  Any error of its own while
handling a run ends that run `failed` with an `engine.error` event (`engine_error`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from basir.config import Settings
from basir.engine import fanout, progression
from basir.engine.admission import Admission
from basir.engine.attempts import AttemptResult, AttemptRunner
from basir.engine.journal import Journal, Metrics, exception_text
from basir.engine.leftovers import FORGET_PROCESS
from basir.engine.preemption import STOP_REASON, Preempter
from basir.engine.rendering import Renderer
from basir.engine.rules import Gate, after_failure
from basir.engine.state import RunState, TaskState
from basir.engine.timers import Timers, retry_key
from basir.engine.watchdog import Watchdog
from basir.i18n import DEFAULT_LOCALE
from basir.i18n.deferred import defer, render_in
from basir.scheduler.deadlines import task_deadline_at
from basir.scheduler.fair_share import FairReadyQueue
from basir.states import RUN_TERMINAL, TASK_TRANSITIONS, RunStatus, TaskStatus

log = logging.getLogger(__name__)


class Flow:
    """The active runs of one engine and everything that moves them forward."""

    def __init__(
        self,
        settings: Settings,
        journal: Journal,
        renderer: Renderer,
        runner: AttemptRunner,
        on_fault: Callable[[BaseException], None],
    ) -> None:
        self.settings = settings
        self.journal = journal
        self.renderer = renderer
        self.ready = FairReadyQueue()  # queue order, with fair share between namespaces
        self.timers = Timers(self.guarded)
        self.runner = runner
        self.metrics: Metrics | None = None
        self.runs: dict[str, RunState] = {}
        self.attempts: dict[tuple[str, str], asyncio.Task[None]] = {}
        self.slots_used = 0
        self.admission = Admission.of(settings, journal, renderer, self)
        self.preemption = Preempter(self)
        self.watchdog = Watchdog(self)
        self.closing = False
        self._on_fault = on_fault
        self._random = random.Random()
        self._ended: deque[tuple[RunState, TaskState]] = deque()  # the DAG walk's worklist
        self._propagating = False

    # ---------------------------------------------------------------- deciding tasks

    def evaluate_ready(self, run: RunState) -> None:
        """Decide every top-level pending task whose needs have all ended."""
        for task in progression.ready_to_decide(run):
            if task.status == TaskStatus.PENDING:
                self.evaluate(run, task)

    def evaluate(self, run: RunState, task: TaskState) -> None:
        """Gate one pending task whose dependencies have ended: queue, skip, or fail it."""
        verdict = progression.verdict(task, run.tasks, run.cancel_requested)
        if verdict is Gate.RUN and task.spec.if_ is not None:
            try:
                if not self.renderer.condition(task.spec.if_, run, task):
                    verdict = Gate.SKIP
            except Exception as exc:  # a bad expression fails this task, never the engine
                self.finish_task(run, task, TaskStatus.FAILED, error=exception_text(exc))
                return
        if verdict is not Gate.RUN:
            self.finish_task(run, task, progression.GATE_STATUS[verdict])
        elif task.spec.foreach is not None and task.parent is None:
            fanout.expand(self, run, task)
        else:
            self.queue(run, task)

    def queue(self, run: RunState, task: TaskState) -> None:
        """Queue a task for its turn."""
        self.journal.task_to(run, task, TaskStatus.QUEUED, queued_at=time.time())
        self.journal.queued(run, task)
        self.push_ready(run, task)

    def settle_parent(self, run: RunState, parent: TaskState) -> None:
        """End a foreach parent once all its instances have ended."""
        outcome = progression.parent_outcome(parent, run.tasks)
        if outcome is not None:
            status, outputs = outcome
            self.finish_task(run, parent, status, outputs=outputs, finished_at=time.time())

    def finish_task(
        self, run: RunState, task: TaskState, status: TaskStatus, **fields: Any
    ) -> None:
        """Move a task to a final state and let its dependants and its run react.

        The reaction walks the DAG with a worklist, never one call per level: a failure at
        the head of a 10,000-task chain ends every task below it in one loop.
        """
        self.journal.task_to(run, task, status, **fields)
        run.unfinished -= 1
        self._ended.append((run, task))
        if self._propagating:
            return  # the loop below, further up this call, picks it up
        self._propagating = True
        try:
            while self._ended:
                ended_run, ended = self._ended.popleft()
                released = progression.count_down(ended, ended_run.tasks)
                if released.parent is not None:
                    self.settle_parent(ended_run, released.parent)
                for dependent in released.unblocked:
                    if dependent.status == TaskStatus.PENDING:
                        self.evaluate(ended_run, dependent)
                self.settle(ended_run)
        finally:
            self._propagating = False
            self._ended.clear()

    def settle(self, run: RunState) -> None:
        """Finish the run once no task is left unfinished."""
        outcome = progression.run_settled(run)
        if outcome is None:
            return
        if run.record.status == RunStatus.QUEUED:
            self.journal.run_to(run, RunStatus.RUNNING, started_at=time.time())
        self.journal.run_to(run, outcome, finished_at=time.time())
        self.journal.finished(run)

    # ---------------------------------------------------------------- dispatching

    def push_ready(self, run: RunState, task: TaskState) -> None:
        """Put a queued task in the ready queue (held tasks wait for their release)."""
        if task.held:
            return
        self.ready.push(
            run.id,
            task.id,
            run_priority=run.record.priority,
            priority=task.spec.priority,
            deadline_at=task_deadline_at(
                run.record.deadline_at, run.record.started_at, task.spec.deadline
            ),
            queued_at=task.queued_at or 0.0,
            namespace=run.record.namespace,
        )

    def unpark(self, run: RunState) -> None:
        """Requeue tasks the run's own limits held back."""
        while run.parked:
            task = run.tasks.get(run.parked.popleft())
            if task is not None and task.status == TaskStatus.QUEUED:
                self.push_ready(run, task)

    def dispatch(self) -> None:
        """Start queued tasks in queue order while global and per-run limits allow."""
        if self.closing:
            return
        limit = self.settings.max_parallel
        while self.ready and self.slots_used < limit:
            run_id, task_id = self.ready.pop()
            run = self.runs.get(run_id)
            task = run.tasks.get(task_id) if run is not None else None
            if run is None or task is None or task.status != TaskStatus.QUEUED or task.held:
                continue
            blocked = run.record.status != RunStatus.RUNNING or (
                run.record.concurrency is not None and run.running >= run.record.concurrency
            )
            if blocked:
                self.admission.hold_back(run, task)
                run.parked.append(task.id)
                self.preemption.for_run_limit(run, task)
                continue
            try:
                if not self.admission.admit(run, task):
                    self.preemption.for_resources(run, task)
                    continue  # waits for resources; offered again when some are freed
                self._start_attempt(run, task)
            except Exception as exc:
                self.admission.free(run, task, self.push_ready)
                self.engine_error(run, task, exc)
        self.admission.settle()  # a freed queue or key slot never stays unused while one waits
        self.preemption.for_slot()

    def _start_attempt(self, run: RunState, task: TaskState) -> None:
        """Record a new attempt as running; it begins once that is committed (`begin`)."""
        # Queued and started in one commit: the store only ever sees the task go from its
        # earlier state to running (one folded write), so only `task.started` is recorded.
        self.journal.started(run, task)
        now = time.time()
        if self.metrics is not None and task.queued_at is not None:
            self.metrics.observe_queue_wait(max(0.0, now - task.queued_at), run.record.workflow)
        # The previous attempt's process (stopped when it ended) is not this attempt's.
        forget = FORGET_PROCESS if task.attempt_pgid is not None else {}
        if task.waiting is not None:
            forget = {**forget, "waiting": None}
        forget = {**forget, **self.admission.started(run, task)}  # queue, time throttled
        self.journal.task_to(
            run,
            task,
            TaskStatus.RUNNING,
            "task.started",
            {"attempt": task.attempts + 1},
            attempts=task.attempts + 1,
            attempt_id=uuid.uuid4().hex,
            started_at=now,
            finished_at=None,
            error=None,
            **forget,
        )
        task.stop_reason = None
        run.running += 1
        self.slots_used += 1
        self.ready.served(run.record.namespace)
        self.journal.launch(run, task)

    def launch_all(self, launch: list[tuple[RunState, TaskState]]) -> None:
        """Begin the attempts whose `running` state is now committed."""
        for run, task in launch:
            if task.status != TaskStatus.RUNNING:  # ended by an engine error before it began
                self._free(run, task)
                continue
            try:
                self.begin(run, task)
            except Exception as exc:
                self.engine_error(run, task, exc)

    # ---------------------------------------------------------------- attempts

    def begin(self, run: RunState, task: TaskState) -> None:
        """Start one attempt of a task whose `running` state is committed."""
        if self.metrics is not None and task.started_at is not None:
            self.metrics.observe_schedule_latency(max(0.0, time.time() - task.started_at))
        attempt = asyncio.create_task(self._attempt(run, task), name=f"{run.id}/{task.id}")
        self.attempts[(run.id, task.id)] = attempt
        attempt.add_done_callback(functools.partial(self._reap, run, task))
        self.watchdog.arm(run, task, attempt)

    def _reap(self, run: RunState, task: TaskState, attempt: asyncio.Task[None]) -> None:
        """Account for an attempt cancelled before its first step (its body never ran).

        `_attempt` handles every cancellation it sees itself, so a task that ends `cancelled()`
        is one whose coroutine never started: without this, its slot would leak and the task
        would stay `running` for ever.
        """
        if not attempt.cancelled() or self.attempts.get((run.id, task.id)) is not attempt:
            return
        self.attempts.pop((run.id, task.id), None)
        self._free(run, task)
        self._settle_attempt(run, task, AttemptResult(TaskStatus.CANCELLED))

    async def _attempt(self, run: RunState, task: TaskState) -> None:
        """Run one attempt of a task and record how it ended."""
        started = time.perf_counter()
        key, me = (run.id, task.id), asyncio.current_task()
        try:
            result = await self.runner.run(run, task)
        finally:
            mine = self.attempts.get(key) is me  # else the engine's timer ended it (`abandon`)
            if mine:
                del self.attempts[key]
                self.watchdog.disarm(run, task)
                self._free(run, task)
        if not mine:
            return
        try:
            if self.metrics is not None:
                self.metrics.observe_task(
                    time.perf_counter() - started, str(result.outcome), run.record.workflow
                )
        except Exception:  # monitoring never decides a task's fate
            log.exception("metrics failed")
        self._settle_attempt(run, task, result)

    def abandon(self, run: RunState, task: TaskState, result: AttemptResult) -> None:
        """End an attempt without waiting for its coroutine (stuck past its timeout).

        Its slot and resources are given back now and its end is recorded as `result`; the
        coroutine, cancelled once more, is left to finish on its own and then changes nothing.
        """
        attempt = self.attempts.pop((run.id, task.id), None)
        if attempt is None:
            return
        attempt.cancel()
        self._free(run, task)
        self._settle_attempt(run, task, result)

    def _free(self, run: RunState, task: TaskState) -> None:
        """An attempt is over, however it ended: give back its slot and its resources."""
        run.running -= 1
        self.slots_used -= 1
        self.preemption.ended(run, task)
        self.admission.free(run, task, self.push_ready)

    def _settle_attempt(self, run: RunState, task: TaskState, result: AttemptResult) -> None:
        """The boundary of an attempt: record its end; an engine error fails task and run."""
        if task.status != TaskStatus.RUNNING or self.runs.get(run.id) is not run:
            return  # already ended by an engine error or a fault while the body ran
        try:
            self._attempt_ended(run, task, result)
        except Exception as exc:
            self.engine_error(run, task, exc)

    def _attempt_ended(self, run: RunState, task: TaskState, result: AttemptResult) -> None:
        now = time.time()
        reason, task.stop_reason = task.stop_reason, None
        self.unpark(run)
        outcome = result.outcome
        if reason == STOP_REASON and outcome != TaskStatus.SUCCEEDED:
            self.preemption.requeue(run, task)  # stopped for a critical task: no retry spent
            return
        if outcome == TaskStatus.CANCELLED and reason in {"shutdown", "pause"}:
            # Interrupted on purpose: queued again without spending a retry.
            self.journal.task_to(
                run,
                task,
                TaskStatus.QUEUED,
                "task.interrupted",
                queued_at=now,
                attempts=task.attempts - 1 if reason == "pause" else task.attempts,
                data={"reason": reason},
            )
            if reason == "pause":
                self.push_ready(run, task)
            return
        if outcome == TaskStatus.SUCCEEDED:
            self.finish_task(run, task, outcome, outputs=result.outputs, finished_at=now)
            return
        if outcome == TaskStatus.CANCELLED:
            self.finish_task(run, task, outcome, finished_at=now, error=defer("cancelled"))
            return
        verdict = after_failure(
            task.spec.retries or run.spec.defaults.retries, task.attempts, self._random.random()
        )
        if verdict.status == TaskStatus.RETRYING and not run.cancel_requested:
            self.journal.task_to(
                run,
                task,
                TaskStatus.RETRYING,
                error=result.error,
                outputs=result.outputs,
                next_attempt_at=now + verdict.delay_s,
                data={"error": _english(result.error), "delay_s": round(verdict.delay_s, 3)},
            )
            self.arm_retry(run, task, verdict.delay_s)
            if self.metrics is not None:
                self.metrics.observe_retry(run.record.workflow)
        else:
            self.finish_task(
                run,
                task,
                TaskStatus.FAILED,
                error=result.error,
                outputs=result.outputs,
                finished_at=now,
            )

    # ---------------------------------------------------------------- timers

    def arm_deadline(self, run: RunState) -> None:
        """Record `deadline.missed` once if the run is still going when its deadline passes."""
        deadline_at = run.record.deadline_at
        if deadline_at is None or self.timers.armed((run.id, "deadline")):
            return

        def fire() -> None:
            if self.runs.get(run.id) is run and run.record.status not in RUN_TERMINAL:
                self.journal.event("deadline.missed", run, data={"deadline_at": deadline_at})
                if self.metrics is not None:
                    self.metrics.observe_deadline_miss(run.record.workflow)

        self.timers.arm((run.id, "deadline"), deadline_at - time.time(), run, None, fire)

    def arm_retry(self, run: RunState, task: TaskState, delay_s: float) -> None:
        """Queue a retrying task again once its backoff has passed."""

        def fire() -> None:
            if task.status == TaskStatus.RETRYING and self.runs.get(run.id) is run:
                self.queue(run, task)

        self.timers.arm(retry_key(run, task), delay_s, run, task, fire)

    def release(self, run: RunState, task: TaskState, by: str | None) -> None:
        """Lift a task's hold; a queued task goes back in the ready queue."""
        if not task.held:
            return
        self.timers.cancel((run.id, f"hold:{task.id}"))
        self.journal.task_fields(
            run, task, "task.released", data={"by": by}, held=False, hold_until=None
        )
        if task.status == TaskStatus.QUEUED:
            self.push_ready(run, task)

    def arm_release(self, run: RunState, task: TaskState, delay_s: float) -> None:
        """Lift a task's hold after `delay_s`."""

        def fire() -> None:
            if self.runs.get(run.id) is run and task.held:
                self.release(run, task, "schedule")

        self.timers.arm((run.id, f"hold:{task.id}"), delay_s, run, task, fire)

    # ---------------------------------------------------------------- faults

    def engine_error(self, run: RunState, task: TaskState | None, exc: BaseException) -> None:
        """An error of the engine's own while handling one run: that run ends `failed`.

        Recorded as `engine.error` naming the error; the run's live tasks end (the one at
        fault `failed`, the others `cancelled`) and its running attempts are stopped.  If
        even that fails, the engine's state is unknown and it stops (`on_fault`).
        """
        text = exception_text(exc)
        log.error("engine error in run %s: %s", run.id, text, exc_info=exc)
        try:
            self.journal.event("engine.error", run, task, data={"error": text})
            self._abort_run(run, task, text)
        except Exception as second:
            self._on_fault(second)

    def _abort_run(self, run: RunState, culprit: TaskState | None, text: str) -> None:
        if RunStatus(run.record.status) in RUN_TERMINAL:
            return
        now = time.time()
        for task in run.tasks.values():
            if task.terminal:
                continue
            target = TaskStatus.FAILED if task is culprit else TaskStatus.CANCELLED
            if target not in TASK_TRANSITIONS[task.status]:
                if TaskStatus.RUNNING not in TASK_TRANSITIONS[task.status]:
                    target = TaskStatus.CANCELLED
                else:  # a queued culprit: failed is only reached through running
                    self.journal.task_to(run, task, TaskStatus.RUNNING, started_at=now)
            fields: dict[str, Any] = {"finished_at": now}
            if task is culprit:
                fields["error"] = text
            self.journal.task_to(run, task, target, **fields)
        for (run_id, task_id), attempt in list(self.attempts.items()):
            if run_id == run.id:
                run.tasks[task_id].stop_reason = "engine_error"
                attempt.cancel()
        self.timers.cancel_run(run.id)
        run.unfinished = 0
        if run.record.status == RunStatus.QUEUED:
            self.journal.run_to(run, RunStatus.RUNNING, started_at=now)
        if run.record.status == RunStatus.PAUSED:
            self.journal.run_to(run, RunStatus.RUNNING)
        self.journal.run_to(run, RunStatus.FAILED, error=text, finished_at=now)
        self.journal.finished(run)

    def guarded(self, run: RunState, task: TaskState | None, action: Callable[[], None]) -> None:
        """Run a timer's action; an error in it fails that run instead of going unseen."""
        try:
            action()
        except Exception as exc:
            self.engine_error(run, task, exc)


def _english(error: str | None) -> str | None:
    """An error for an event's data: English, like all event data (webhooks, L2)."""
    return None if error is None else render_in(DEFAULT_LOCALE, error)
