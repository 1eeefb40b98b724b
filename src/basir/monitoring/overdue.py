"""The built-in rules "a run (or a task) is taking longer than usual": past its usual p95.

A workflow's usual p95 is that of the durations of its runs that ended in the last week (the
performance report's figure, at least `MIN_HISTORY` of them), refreshed every `REFRESH_S`
(`MISSING_REFRESH_S` while a running run or task has none); a task's, that of the same task
of the same workflow.  A running run fires `run_overdue` (severity `warning`) once it has
run longer than that p95 and at least `MIN_OVERDUE_S`; a running task fires `task_overdue`
the same way.  The alert resolves when the run (the task) is no longer running, however it
ended.  One alert per run (per task of a run).  `on_overdue` and `on_overdue_tasks` decide
(pure); `OverdueWatch` reads the store.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from basir.monitoring.alert_rules import (
    FIRING,
    RESOLVED,
    RUN_OVERDUE,
    TASK_OVERDUE,
    Silence,
    silencing,
)
from basir.monitoring.report_source import performance_report
from basir.store.base import MAX_RUNS_PER_READ, Store
from basir.store.records import AlertRecord, RunRecord, TaskRecord

HISTORY_S = 7 * 86400.0
MIN_HISTORY = 5
MIN_OVERDUE_S = 60.0
REFRESH_S = 600.0
# Sooner when a running run's workflow (or task) has no p95 yet: the cache may predate its
# history (runs that ended after the refresh), which left a new workflow unwatched 10 minutes.
MISSING_REFRESH_S = 60.0
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


def task_overdue_id(run_id: str, task_id: str) -> str:
    """The id of the overdue alert about one task of one run."""
    return f"{TASK_OVERDUE}.{run_id}.{task_id}"


def on_overdue_tasks(
    running: list[tuple[str, TaskRecord]],
    usual_p95: dict[tuple[str, str], float],
    firing: dict[str, AlertRecord],
    silences: list[Silence],
    now: float,
) -> list[AlertRecord]:
    """Task overdue alerts: `running` holds (workflow, task row); `firing` maps alert ids."""
    changes: list[AlertRecord] = []
    still: set[str] = set()
    for workflow, task in running:
        if task.status != "running" or task.started_at is None or task.parent_id is not None:
            continue
        alert_id = task_overdue_id(task.run_id, task.task_id)
        still.add(alert_id)
        p95 = usual_p95.get((workflow, task.task_id))
        elapsed = now - task.started_at
        if p95 is None or alert_id in firing or elapsed <= max(p95, MIN_OVERDUE_S):
            continue
        fired = AlertRecord(
            id=alert_id,
            rule=TASK_OVERDUE,
            state=FIRING,
            severity="warning",
            workflow=workflow,
            run_id=task.run_id,
            fired_at=now,
            updated_at=now,
            data={"task_id": task.task_id, "elapsed_s": elapsed, "usual_p95_s": p95},
        )
        fired.silenced_by = silencing(fired, silences, now)
        changes.append(fired)
    for alert_id, alert in firing.items():
        if alert_id not in still:
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
        self._task_p95: dict[tuple[str, str], float] = {}
        self._refreshed_at: float | None = None

    async def usual_p95(self, now: float, missing: bool = False) -> dict[str, float]:
        """p95 of the run durations of the last week per workflow with enough history;
        `missing`: a running run or task has none, so an older cache is read again sooner."""
        age = None if self._refreshed_at is None else now - self._refreshed_at
        if age is None or age >= REFRESH_S or (missing and age >= MISSING_REFRESH_S):
            report = await performance_report(self.store, now - HISTORY_S, now)
            self._p95 = {
                w.workflow: w.duration.p95
                for w in report.workflows
                if w.duration.p95 is not None and w.duration.count >= MIN_HISTORY
            }
            self._task_p95 = {
                (w.workflow, t.task): t.duration.p95
                for w in report.workflows
                for t in w.tasks
                if t.duration.p95 is not None and t.duration.count >= MIN_HISTORY
            }
            self._refreshed_at = now
        return self._p95

    async def check(self, silences: list[Silence], now: float) -> list[AlertRecord]:
        """The overdue alerts (runs and tasks) to fire or resolve now."""
        running = [r for r in await self.store.active_runs() if r.status == "running"]
        firing_all = await self.store.alert_list(state=FIRING, limit=MAX_FIRING_READ)
        firing = {a.run_id: a for a in firing_all if a.rule == RUN_OVERDUE and a.run_id}
        firing_tasks = {a.id: a for a in firing_all if a.rule == TASK_OVERDUE}
        if not running and not firing and not firing_tasks:
            return []
        workflow_of = {run.id: run.workflow for run in running}
        tasks: list[tuple[str, TaskRecord]] = []
        ids = list(workflow_of)
        for at in range(0, len(ids), MAX_RUNS_PER_READ):
            for task in await self.store.get_tasks_of(ids[at : at + MAX_RUNS_PER_READ]):
                tasks.append((workflow_of[task.run_id], task))
        missing = any(run.workflow not in self._p95 for run in running) or any(
            (workflow, task.task_id) not in self._task_p95
            for workflow, task in tasks
            if task.status == "running" and task.parent_id is None
        )
        await self.usual_p95(now, missing)
        changes = on_overdue(running, self._p95, firing, silences, now)
        changes += on_overdue_tasks(tasks, self._task_p95, firing_tasks, silences, now)
        return changes
