"""The built-in rule "a run is taking longer than usual": its run time past its workflow's p95.

A workflow's usual p95 is that of the durations of its runs that ended in the last week (the
performance report's figure, at least `MIN_HISTORY` of them), refreshed every
`REFRESH_S`.  A running run fires `run_overdue` (severity `warning`) once it has run longer
than that p95 and at least `MIN_OVERDUE_S`; the alert resolves when the run ends, however it
ends.  One alert per run.  `on_overdue` decides (pure); `OverdueWatch` reads the store.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from basir.monitoring.alert_rules import FIRING, RESOLVED, RUN_OVERDUE, Silence, silencing
from basir.monitoring.report_source import performance_report
from basir.store.base import Store
from basir.store.records import AlertRecord, RunRecord

HISTORY_S = 7 * 86400.0
MIN_HISTORY = 5
MIN_OVERDUE_S = 60.0
REFRESH_S = 600.0
MAX_FIRING_READ = 5000


def overdue_alert_id(run_id: str) -> str:
    """The id of the overdue alert about one run."""
    return f"{RUN_OVERDUE}.{run_id}"


def on_overdue(
    running: list[RunRecord],
    usual_p95: dict[str, float],
    firing: dict[str, AlertRecord],
    silences: list[Silence],
    now: float,
) -> list[AlertRecord]:
    """Overdue alerts to fire (runs past their p95) or resolve (runs no longer running).

    `firing` maps a run id to its firing overdue alert.
    """
    changes: list[AlertRecord] = []
    still_running = set()
    for run in running:
        if run.status != "running" or run.started_at is None:
            continue
        still_running.add(run.id)
        p95 = usual_p95.get(run.workflow)
        elapsed = now - run.started_at
        if p95 is None or run.id in firing or elapsed <= max(p95, MIN_OVERDUE_S):
            continue
        fired = AlertRecord(
            id=overdue_alert_id(run.id),
            rule=RUN_OVERDUE,
            state=FIRING,
            severity="warning",
            workflow=run.workflow,
            run_id=run.id,
            fired_at=now,
            updated_at=now,
            data={"elapsed_s": elapsed, "usual_p95_s": p95, "started_at": run.started_at},
        )
        fired.silenced_by = silencing(fired, silences, now)
        changes.append(fired)
    for run_id, alert in firing.items():
        if run_id not in still_running:
            changes.append(
                dataclasses.replace(alert, state=RESOLVED, resolved_at=now, updated_at=now)
            )
    return changes


class OverdueWatch:
    """Reads running runs and the usual p95 of their workflows (cached) from the store."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        self._p95: dict[str, float] = {}
        self._refreshed_at: float | None = None

    async def usual_p95(self, now: float) -> dict[str, float]:
        """p95 of the run durations of the last week per workflow with enough history."""
        if self._refreshed_at is None or now - self._refreshed_at >= REFRESH_S:
            report = await performance_report(self.store, now - HISTORY_S, now)
            self._p95 = {
                w.workflow: w.duration.p95
                for w in report.workflows
                if w.duration.p95 is not None and w.duration.count >= MIN_HISTORY
            }
            self._refreshed_at = now
        return self._p95

    async def check(self, silences: list[Silence], now: float) -> list[AlertRecord]:
        """The overdue alerts to fire or resolve now."""
        running = [r for r in await self.store.active_runs() if r.status == "running"]
        firing_all = await self.store.alert_list(state=FIRING, limit=MAX_FIRING_READ)
        firing = {a.run_id: a for a in firing_all if a.rule == RUN_OVERDUE and a.run_id}
        if not running and not firing:
            return []
        return on_overdue(running, await self.usual_p95(now), firing, silences, now)
