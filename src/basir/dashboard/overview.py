"""What the overview shows: health (as `/api/v1/health` judges it), live counts, firing alerts
and recent failures.

The decisions are pure functions over records; `load_overview` only gathers the records.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from basir.dashboard.context import DashboardContext
from basir.dashboard.web import format_number
from basir.i18n import _
from basir.i18n.deferred import labelled
from basir.monitoring.alert_rules import FIRING, message
from basir.monitoring.health_overview import AMBER, GREEN, RED, Facts, assess
from basir.monitoring.health_probe import gather
from basir.store.records import AlertRecord, RunRecord

FIRING_SHOWN = 10
LEVELS = {GREEN: "ok", AMBER: "warn", RED: "down"}
WINDOW_S = 3600.0
# Runs finishing in the window were created at most this long before it (older ones are
# counted only if a page of recent runs reaches them): bounds the scan.
SCAN_BACK_S = 24 * 3600.0
SCAN_PAGE = 200
SCAN_MAX_PAGES = 10
MAX_ACTIVE_RUNS = 500
RECENT_FAILURES = 10
CHART_STEP_S = 300.0


@dataclass(frozen=True, slots=True)
class Check:
    """One health line: a component, `ok` / `warn` / `down`, and why."""

    name: str
    level: str
    reason: str


@dataclass(frozen=True, slots=True)
class Kpis:
    """The live numbers of the overview."""

    active_runs: int
    running_tasks: int
    queued_tasks: int
    succeeded_last_hour: int
    failed_last_hour: int

    @property
    def success_rate(self) -> float | None:
        """The share of the runs that ended in the last hour that succeeded (None: none)."""
        ended = self.succeeded_last_hour + self.failed_last_hour
        return self.succeeded_last_hour / ended if ended else None


def _green_reason(component: str, facts: Facts) -> str:
    """Why a green component is green, in figures (a verdict has reasons only when it is not)."""
    if component == "store":
        return _("answers and takes writes")
    if component == "scheduler":
        return _("running")
    if component == "workers":
        used, slots = format_number(facts.slots_used), format_number(facts.slots)
        return _("{used} of {slots} slots busy", used=used, slots=slots)
    if component == "queues":
        return _("tasks ready to start: {count}", count=format_number(facts.queue_depth))
    if component == "alerts":
        return _("Nothing is firing.")
    if facts.disk_free_ratio is None:
        return _("free space unknown")
    percent = format_number(round(facts.disk_free_ratio * 100, 1))
    return _("free space: {percent}%", percent=percent)


def checks_of(facts: Facts) -> list[Check]:
    """One health line per component of `/api/v1/health`, with its reasons."""
    _overall, verdicts = assess(facts)
    lines = []
    for component, verdict in verdicts.items():
        reason = "; ".join(verdict.reasons) or _green_reason(component, facts)
        lines.append(Check(_component_name(component), LEVELS[verdict.status], reason))
    return lines


def _component_name(component: str) -> str:
    names = {
        "store": _("Store"),
        "scheduler": _("Scheduler"),
        "workers": _("Workers"),
        "queues": _("Queues"),
        "alerts": _("Alerts"),
        "disk": _("Disk"),
    }
    return names.get(component, component)


async def health_checks(ctx: DashboardContext) -> list[Check]:
    """Store, scheduler, workers, queues, alerts and disk, judged as `/api/v1/health` does."""
    facts = await gather(ctx.engine, ctx.settings.max_parallel, ctx.settings.home)
    return checks_of(facts)


async def firing_alerts(ctx: DashboardContext) -> list[tuple[AlertRecord, str]]:
    """The newest firing alerts with their messages in the page's language."""
    found = await ctx.store.alert_list(state=FIRING, limit=FIRING_SHOWN)
    return [(alert, message(alert)) for alert in found]


def count_finished(runs: Iterable[RunRecord], since: float) -> Counter[str]:
    """How many runs ended in each state at or after `since`."""
    return Counter(
        str(r.status) for r in runs if r.finished_at is not None and r.finished_at >= since
    )


async def _recent(ctx: DashboardContext, status: str, now: float) -> list[RunRecord]:
    """Runs of one final state created within the scan window, newest first (bounded)."""
    found: list[RunRecord] = []
    cursor = None
    for _page in range(SCAN_MAX_PAGES):
        page = await ctx.store.list_runs(status=status, limit=SCAN_PAGE, cursor=cursor)
        found.extend(page.items)
        old = page.items and page.items[-1].created_at < now - SCAN_BACK_S
        if page.next is None or old:
            break
        cursor = page.next
    return found


def per_interval(
    runs: Iterable[RunRecord], now: float, window_s: float = WINDOW_S, step_s: float = CHART_STEP_S
) -> dict[str, list[float]]:
    """Runs that ended per interval of the window: `{time, succeeded, failed}` columns.

    `time` is each interval's start (Unix seconds), oldest first, the shape uPlot draws.
    """
    slots = int(window_s // step_s)
    start = now - slots * step_s
    times = [start + i * step_s for i in range(slots)]
    counts = {"succeeded": [0.0] * slots, "failed": [0.0] * slots}
    for run in runs:
        if run.finished_at is None or run.finished_at < start or str(run.status) not in counts:
            continue
        index = min(int((run.finished_at - start) // step_s), slots - 1)
        counts[str(run.status)][index] += 1
    return {"time": times, **counts}


async def load_chart(ctx: DashboardContext) -> dict[str, list[float]]:
    """The overview chart's data: runs succeeded and failed per 5 minutes of the last hour."""
    now = time.time()
    finished = [*await _recent(ctx, "succeeded", now), *await _recent(ctx, "failed", now)]
    return per_interval(finished, now)


async def load_kpis(ctx: DashboardContext) -> Kpis:
    """Active runs and their tasks by state; runs that ended in the last hour."""
    now = time.time()
    active = await ctx.store.active_runs()
    tasks: Counter[str] = Counter()
    for run in active[:MAX_ACTIVE_RUNS]:
        tasks.update(str(task.status) for task in await ctx.store.get_tasks(run.id))
    succeeded = count_finished(await _recent(ctx, "succeeded", now), now - WINDOW_S)
    failed = count_finished(await _recent(ctx, "failed", now), now - WINDOW_S)
    return Kpis(
        active_runs=len(active),
        running_tasks=tasks.get("running", 0),
        queued_tasks=tasks.get("queued", 0),
        succeeded_last_hour=succeeded.get("succeeded", 0),
        failed_last_hour=failed.get("failed", 0),
    )


async def failure_of(ctx: DashboardContext, run: RunRecord) -> str:
    """Why a run failed, as its alert says: its own error, else its first failed task's.

    As stored (`task: error` still a message): the page shows it with the `message` filter.
    """
    if run.error:
        return run.error
    for task in await ctx.store.get_tasks(run.id):
        if task.status == "failed":
            return labelled(task.task_id, task.error) if task.error else task.task_id
    return ""


async def recent_failures(ctx: DashboardContext) -> list[tuple[RunRecord, str]]:
    """The newest failed runs, each with why it failed."""
    page = await ctx.store.list_runs(status="failed", limit=RECENT_FAILURES)
    return [(run, await failure_of(ctx, run)) for run in page.items]
