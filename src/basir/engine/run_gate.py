"""The run gate: a run becomes active only within its workflow's run limits.

`max_active_runs:` and a workflow-level `concurrency_key:` (`scheduler.run_limits`) hold for
every trigger, because every run — submitted (`Engine.submit`) or created in the store by a
schedule, a backfill or a restart and then resumed (`Engine.resume`) — passes through here
before it moves `queued → running`.  A run over a limit stays `queued`, with a `run.waiting`
event saying why; when an active run of the workflow ends, the waiting ones are offered again
(higher priority first, then the oldest) and those that fit start.  Runs already active before
a restart are counted again as they resume, before any queued one is admitted.

The counts are this engine's (one server process, or one `basir run`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from basir.engine.flow import Flow
from basir.engine.state import RunState
from basir.errors import ConflictError
from basir.i18n import DEFAULT_LOCALE, _, render_message
from basir.i18n.deferred import render_in
from basir.scheduler.run_limits import RunLimits, RunNeed
from basir.states import RunStatus


class RunGate:
    """Active-run limits of the engine's runs, and the queued runs waiting for them."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.limits = RunLimits()
        self.waiting: dict[str, list[RunState]] = {}  # by workflow, in arrival order
        self.reasons: dict[str, str] = {}  # why each waiting run waits (deferred), by run id

    def need(self, run: RunState) -> RunNeed:
        """The run's limits; its key rendered with its params (a bad key raises here)."""
        spec = run.spec
        key_spec = spec.concurrency_key
        if key_spec is None:
            return RunNeed(run.record.workflow, spec.max_active_runs)
        key = self.flow.admission.render(key_spec.key, run, None)
        return RunNeed(run.record.workflow, spec.max_active_runs, key, key_spec.holders or 1)

    def enter(self, run: RunState, need: RunNeed) -> bool:
        """Count a queued run as active and return True, or keep it waiting and return False."""
        reason = self.limits.check(run.id, need)
        if reason is None:
            self.limits.take(run.id, need)
            return True
        self.waiting.setdefault(need.workflow, []).append(run)
        self.reasons[run.id] = reason
        # Event data is machine output, the same for every reader: the English text.
        data = {"reason": render_in(DEFAULT_LOCALE, reason)}
        self.flow.journal.event("run.waiting", run, data=data)
        return False

    def resumed(self, run: RunState, watch: Callable[[RunState], None]) -> bool:
        """A queued run resumed (fired by a schedule, or after a restart) passes the gate:
        True when it starts now; else it waits (its deadline still watched by `watch`)."""
        try:
            need = self.need(run)
        except Exception as exc:  # a key that cannot be rendered ends the run, not the engine
            self.flow.engine_error(run, None, exc)
            return False
        if not self.enter(run, need):
            self.flow.arm_deadline(run)
            watch(run)
            return False
        self.flow.journal.run_to(run, RunStatus.RUNNING, started_at=time.time())
        return True

    def adopt(self, run: RunState) -> None:
        """Count a run that was already active (resumed running or paused) whatever the limits."""
        try:
            need = self.need(run)
        except Exception:  # it was admitted with this key once; count it by workflow at least
            need = RunNeed(run.record.workflow)
        self.limits.take(run.id, need)

    def is_waiting(self, run: RunState) -> bool:
        """True while the run is queued behind its workflow's limits."""
        return run in self.waiting.get(run.record.workflow, ())

    def refuse_pause(self, run: RunState) -> None:
        """Only an admitted run can be paused: 409 `run.waiting` while it waits its turn."""
        if self.is_waiting(run):
            message = _(
                "run {run_id} is queued behind its workflow's run limits and cannot be paused"
                " before it starts; cancel it instead",
                run_id=run.id,
            )
            raise ConflictError("run.waiting", message)

    def retry(self, run: RunState) -> None:
        """A finished run retried in place becomes active again: only within the limits."""
        need = self.need(run)
        reason = self.limits.check(run.id, need)
        if reason is not None:
            raise ConflictError("run.limit_reached", render_message(reason))
        self.limits.take(run.id, need)

    def leave(self, run: RunState) -> None:
        """The run ended: it no longer counts, and runs waiting for its workflow may start."""
        workflow = run.record.workflow
        queue = self.waiting.get(workflow)
        if queue is not None and run in queue:
            queue.remove(run)
        self.reasons.pop(run.id, None)
        if self.limits.release(run.id) is None or not self.waiting.get(workflow):
            return
        waiting = sorted(self.waiting.pop(workflow), key=_turn)
        for candidate in waiting:
            if self.flow.runs.get(candidate.id) is not candidate:
                continue
            try:
                need = self.need(candidate)
            except Exception as exc:
                self.flow.engine_error(candidate, None, exc)
                continue
            if self.limits.check(candidate.id, need) is None:
                self.limits.take(candidate.id, need)
                self.reasons.pop(candidate.id, None)
                self.start(candidate)
            else:
                self.waiting.setdefault(workflow, []).append(candidate)

    def start(self, run: RunState) -> None:
        """An admitted queued run starts: its first tasks are decided."""
        now = time.time()
        if run.record.status == RunStatus.QUEUED:
            self.flow.journal.run_to(run, RunStatus.RUNNING, started_at=now)
        for task in run.tasks.values():  # holds set while it waited (after a restart too)
            if task.held and task.hold_until is not None:
                self.flow.arm_release(run, task, task.hold_until - now)
        self.flow.evaluate_ready(run)
        self.flow.settle(run)

    def status(self) -> dict[str, Any]:
        """Queues (limit, in use, by whom), task keys in use, tasks held back by throttling,
        and the runs queued behind their workflow's run limits, with why (reasons in the active
        locale)."""
        runs = [
            {
                "run_id": run.id,
                "workflow": workflow,
                "reason": render_message(self.reasons.get(run.id)),
            }
            for workflow, queued in sorted(self.waiting.items())
            for run in queued
        ]
        return {**self.flow.admission.queues_status(), "runs_waiting": runs}


def _turn(run: RunState) -> tuple[int, float]:
    return (-run.record.priority, run.record.created_at)
