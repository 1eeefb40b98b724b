"""`DeadlineWatch`: `deadline.at_risk` and task `deadline.missed`, from timers of the engine.

When a run with a deadline (its own, or a task's `deadline:`) starts or resumes, the watch
reads the durations of the workflow's last successful runs once (`HISTORY_RUNS`), then arms
one timer per deadline.  A timer computes the critical path of the unfinished work
(`scheduler.deadlines.remaining_s`) and, when it no longer fits in the time left, records
`deadline.at_risk` (once per deadline); otherwise it looks again when the slack would be used
up.  A task's own deadline also records `deadline.missed` if the task has not ended when it
passes (the run's is recorded by `Flow.arm_deadline`).  Without history there is no estimate,
so no at-risk event, only misses.  Timers are keyed by run, so they end with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

from basir.scheduler.deadlines import (
    Node,
    at_risk,
    median_durations,
    next_check_in,
    remaining_s,
    task_deadline_at,
)
from basir.states import RUN_TERMINAL

if TYPE_CHECKING:
    from basir.engine.flow import Flow
    from basir.engine.state import RunState
    from basir.store.base import Store

log = logging.getLogger(__name__)

HISTORY_RUNS = 10


def _nodes(run: RunState) -> dict[str, Node]:
    nodes: dict[str, Node] = {}
    for task in run.tasks.values():
        if task.parent is not None:  # foreach instances count through their parent
            continue
        running = task.started_at if task.status == "running" else None
        nodes[task.id] = Node(tuple(task.needs), task.terminal, running)
    return nodes


class DeadlineWatch:
    """Arms the at-risk and task-deadline timers of runs (see the module docstring)."""

    def __init__(self, store: Store, flow: Flow) -> None:
        self.store = store
        self.flow = flow
        self._loading: set[asyncio.Task[None]] = set()

    def watch(self, run: RunState) -> None:
        """Start watching a run's deadlines (nothing to do when it has none)."""
        started = run.record.started_at
        targets: list[tuple[str | None, float]] = []
        if run.record.deadline_at is not None:
            targets.append((None, run.record.deadline_at))
        for task in run.tasks.values():
            own = task.spec.deadline
            if own is not None and task.parent is None and started is not None:
                due = task_deadline_at(None, started, own)
                if due is not None:
                    targets.append((task.id, due))
                    self._arm_miss(run, task.id, due)
        if targets:
            loading = asyncio.create_task(self._start(run, targets))
            self._loading.add(loading)
            loading.add_done_callback(self._loading.discard)

    async def stop(self) -> None:
        """Stop history reads still in flight (the engine stops)."""
        for loading in list(self._loading):
            loading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loading

    async def _start(self, run: RunState, targets: list[tuple[str | None, float]]) -> None:
        try:
            estimates = await self._history(run.record.workflow, run.id)
        except Exception:  # an estimate is advice: a failed read must not touch the run
            log.exception("reading the durations of earlier runs failed")
            return
        if not estimates:
            return
        for target, due in targets:
            self._check(run, target, due, estimates)

    async def _history(self, workflow: str, run_id: str) -> dict[str, float]:
        page = await self.store.list_runs(
            status="succeeded", workflow=workflow, limit=HISTORY_RUNS + 1
        )
        earlier = [r for r in page.items if r.id != run_id][:HISTORY_RUNS]
        return median_durations([await self.store.get_tasks(r.id) for r in earlier])

    def _check(
        self, run: RunState, target: str | None, due: float, estimates: dict[str, float]
    ) -> None:
        flow = self.flow
        if flow.runs.get(run.id) is not run or run.record.status in RUN_TERMINAL:
            return
        task = run.tasks.get(target) if target is not None else None
        if task is not None and task.terminal:
            return
        now = time.time()
        left = remaining_s(_nodes(run), estimates, now, target)
        if at_risk(due, now, left):
            data = {"deadline_at": due, "estimate_s": round(left, 3), "left_s": round(due - now, 3)}
            flow.journal.event("deadline.at_risk", run, task, data=data)
            return
        key = (run.id, f"at_risk:{target or ''}")
        delay = next_check_in(due, now, left)
        flow.timers.arm(key, delay, run, task, lambda: self._check(run, target, due, estimates))

    def _arm_miss(self, run: RunState, task_id: str, due: float) -> None:
        task = run.tasks[task_id]

        def fire() -> None:
            if self.flow.runs.get(run.id) is run and not task.terminal:
                self.flow.journal.event("deadline.missed", run, task, data={"deadline_at": due})

        self.flow.timers.arm((run.id, f"deadline:{task_id}"), due - time.time(), run, task, fire)
