"""Preemption in the engine: a critical task that cannot start stops lower preemptible ones.

Five things can keep a ready task from starting that preemption can free: the engine's slots
(`max_parallel`), its run's `concurrency`, resources (`engine.admission`), a named queue's
slots and a concurrency key value's slots.  For each, when the task is critical, the running
attempts are offered to the pure choice (`scheduler.preemption.choose_victims`, or
`choose_limit_victims` when a queue or key is short) with what each holds of that limit,
counted as a pool (`SLOTS`, `RUN_SLOTS`, the resource pools, `queue:NAME`, `key:VALUE`).  What
a task lacks is decided together: a critical task short of a queue slot and a cpu stops only
tasks whose ends give it both, never one for a slot it still could not use.  A rate limit is
never freed (its tokens are spent): a critical task it holds back stops nobody and waits for
its token in the rate's line.  A victim is stopped through the same path as a cancel or a task
pause (its asyncio task is cancelled, the executor SIGTERMs its process group, waits its grace,
then SIGKILLs it); when its attempt ends its queue and key slots are given back, the first of
those lines (the critical task, first in the queue order) is offered them, and the flow calls
`requeue`, which queues the victim again without spending a retry, counts it on the task
(`preemptions`) and records `task.preempted` naming who preempted it.  A critical task whose
victims are still stopping never asks again, so one shortage stops no more than it needs.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from basir.engine.state import RunState, TaskState
from basir.scheduler.ordering import task_priority
from basir.scheduler.preemption import (
    Candidate,
    Key,
    choose_limit_victims,
    choose_victims,
    may_preempt,
)
from basir.scheduler.throttle import Shortage
from basir.states import RunStatus, TaskStatus

if TYPE_CHECKING:
    from basir.engine.flow import Flow

log = logging.getLogger(__name__)

SLOTS = "slots"  # the engine's `max_parallel` slots, as a pool
RUN_SLOTS = "run slots"  # one run's `concurrency`, as a pool (names no resource pool can take)
STOP_REASON = "preempt"
MAX_REMEMBERED = 10_000  # fruitless searches kept (cleared past it; they are only a shortcut)

Holds = Callable[[Key], Mapping[str, int]]
Choose = Callable[..., list[Key] | None]
NO_SHORTAGE = Shortage("", {}, {}, {})


def limit_reason(short: Shortage | None, otherwise: str) -> str:
    """The `reason` of a preemption: `queue` or `key` when that limit holds the task back."""
    if short is None:
        return otherwise
    return "key" if short.on.startswith("key:") else "queue"


def preemptible(run: RunState, task: TaskState) -> bool:
    """A task's own `preemptible:`, else its workflow's `defaults.preemptible`."""
    own = task.spec.preemptible
    return run.spec.defaults.preemptible if own is None else own


def priority_of(run: RunState, task: TaskState) -> int:
    """The task's effective priority: its own, else its run's."""
    return task_priority(task.spec.priority, run.record.priority)


class Preempter:
    """Finds and stops victims for critical tasks; re-queues them when their attempts end."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.stopping: dict[Key, Key] = {}  # victim → the critical task it makes room for
        # Searches that found no victims, and what the running set looked like then: while no
        # attempt has begun or ended (and capacities are the same) the answer cannot change,
        # so a critical task waiting behind full slots costs nothing per dispatch.
        self._fruitless: dict[tuple[Key, str], tuple[object, ...]] = {}
        self._ends = 0

    def for_slot(self) -> None:
        """Every slot is taken and the next task in queue order is critical: make room."""
        flow = self.flow
        if flow.slots_used < flow.settings.max_parallel:
            return
        head = flow.ready.peek()
        run = flow.runs.get(head[0]) if head is not None else None
        task = run.tasks.get(head[1]) if run is not None and head is not None else None
        if run is None or task is None or task.status != TaskStatus.QUEUED or task.held:
            return
        limit = run.record.concurrency
        if run.record.status != RunStatus.RUNNING or (limit is not None and run.running >= limit):
            return  # its own run holds it back first: `for_run_limit` when it is popped
        if not may_preempt(priority_of(run, task)):
            return
        short = flow.admission.shortage(run, task)
        if short is not None and short.stuck:
            return  # a rate limit holds it back: no stop brings a token back
        # A slot, its queue and key slots and its resources together: stopping a task for a
        # slot the critical task could still not use would stop it for nothing.
        limits = short or NO_SHORTAGE
        throttle = flow.admission.throttle
        allocator = flow.admission.allocator
        held = allocator.held
        self._make_room(
            run,
            task,
            limit_reason(short, "slots"),
            {SLOTS: 1, **limits.request, **flow.admission.request(run, task)},
            {SLOTS: flow.settings.max_parallel, **limits.capacity, **allocator.capacity},
            {SLOTS: flow.slots_used, **limits.in_use, **allocator.in_use},
            holds=lambda key: {SLOTS: 1, **throttle.holds(key), **held.get(key, {})},
            choose=choose_victims if short is None else choose_limit_victims,
        )

    def for_run_limit(self, run: RunState, task: TaskState) -> None:
        """The task's run is at its `concurrency`: stop one of that run's lower tasks."""
        limit = run.record.concurrency
        if run.record.status != RunStatus.RUNNING or limit is None:
            return
        counts = ({RUN_SLOTS: limit}, {RUN_SLOTS: run.running})
        self._make_room(run, task, "concurrency", {RUN_SLOTS: 1}, *counts, only_run=run.id)

    def for_resources(self, run: RunState, task: TaskState) -> None:
        """The task was not admitted: its queue or key is full, or its resources do not fit.
        Stop lower tasks holding what it is short of, its resources counted with its limits."""
        admission = self.flow.admission
        if not may_preempt(priority_of(run, task)):
            return
        short = admission.shortage(run, task)
        if short is not None and short.stuck:  # a rate limit holds it back: no stop brings a
            self._recheck_after(run, task, short)  # token back; look again once one is there
            return
        limits = short or NO_SHORTAGE
        throttle = admission.throttle
        allocator = admission.allocator
        held = allocator.held
        self._make_room(
            run,
            task,
            limit_reason(short, "resources"),
            {**limits.request, **admission.request(run, task)},
            {**limits.capacity, **allocator.capacity},
            {**limits.in_use, **allocator.in_use},
            holds=lambda key: {**throttle.holds(key), **held.get(key, {})},
            choose=choose_victims if short is None else choose_limit_victims,
        )

    def _recheck_after(self, run: RunState, task: TaskState, short: Shortage) -> None:
        """Held back by a full queue (or key) and a spent rate at once, the critical task waits
        in the queue's line, where no token would wake it: offer that line again when the
        token is there, so it may then preempt for the slot."""
        flow = self.flow
        timer = (run.id, f"recheck:{short.on}")
        rate_line = not short.on.startswith(("queue:", "key:"))  # a rate's line has its timer
        if rate_line or short.retry_after_s is None or flow.timers.armed(timer):
            return
        action = functools.partial(self._recheck, short.on)
        flow.timers.arm(timer, short.retry_after_s, run, task, action)

    def _recheck(self, on: str) -> None:
        self.flow.admission.rewake(self.flow.push_ready, [on])  # the first of its line
        self.flow.journal.wake()

    def _make_room(
        self,
        run: RunState,
        task: TaskState,
        reason: str,
        request: Mapping[str, int],
        capacity: Mapping[str, int],
        in_use: Mapping[str, int],
        *,
        only_run: str | None = None,
        holds: Holds | None = None,
        choose: Choose = choose_victims,
    ) -> None:
        priority = priority_of(run, task)
        beneficiary = (run.id, task.id)
        if not may_preempt(priority) or beneficiary in self.stopping.values():
            return
        flow = self.flow
        seen = (self._ends, len(flow.attempts), tuple(sorted(capacity.items())))
        if self._fruitless.get((beneficiary, reason)) == seen:
            return
        candidates = []
        for key in flow.attempts:
            victim_run = flow.runs.get(key[0])
            if key in self.stopping or victim_run is None or only_run not in (None, key[0]):
                continue
            victim = victim_run.tasks[key[1]]
            if victim.stop_reason is not None:  # already being stopped (cancel, pause)
                continue
            held = holds(key) if holds is not None else dict.fromkeys(request, 1)
            candidates.append(
                Candidate(
                    key,
                    priority_of(victim_run, victim),
                    victim.started_at or 0.0,
                    preemptible(victim_run, victim),
                    held,
                )
            )
        victims = choose(priority, request, capacity, in_use, candidates)
        if not victims:
            if len(self._fruitless) > MAX_REMEMBERED:
                self._fruitless.clear()
            self._fruitless[(beneficiary, reason)] = seen
            return
        for key in victims:
            self._stop(key, beneficiary, reason)

    def _stop(self, key: Key, beneficiary: Key, reason: str) -> None:
        attempt = self.flow.attempts[key]
        victim = self.flow.runs[key[0]].tasks[key[1]]
        victim.stop_reason = STOP_REASON
        victim.preempted_by = (*beneficiary, reason)
        self.stopping[key] = beneficiary
        attempt.cancel()

    def ended(self, run: RunState, task: TaskState) -> None:
        """An attempt is over: it no longer stands between its beneficiary and a start."""
        self.stopping.pop((run.id, task.id), None)
        self._ends += 1

    def requeue(self, run: RunState, task: TaskState) -> None:
        """The preempted attempt has stopped: queue the task again, its retries untouched."""
        flow = self.flow
        by_run, by_task, reason = task.preempted_by or ("", "", "")
        task.preempted_by = None
        data = {
            "by_run_id": by_run,
            "by_task_id": by_task,
            "reason": reason,
            "attempt": task.attempts,
            "attempt_id": task.attempt_id,
        }
        flow.journal.task_to(
            run,
            task,
            TaskStatus.QUEUED,
            "task.preempted",
            data=data,
            queued_at=time.time(),
            attempts=task.attempts - 1,
            preemptions=task.preemptions + 1,
        )
        flow.push_ready(run, task)
        if flow.metrics is not None:
            try:
                flow.metrics.observe_preemption(run.record.workflow)
            except Exception:  # monitoring never decides a task's fate
                log.exception("metrics failed")
