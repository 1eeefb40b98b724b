"""What the overview shows: health (as `/readyz` decides it), live counts, recent failures.

The decisions are pure functions over records; `load_overview` only gathers the records.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from basir.dashboard.context import DashboardContext
from basir.i18n import _
from basir.store.records import RunRecord

HEALTH_TIMEOUT_S = 2.0
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


async def health_checks(ctx: DashboardContext) -> list[Check]:
    """The store and the engine, with the reasons `/readyz` gives."""
    try:
        alive = await asyncio.wait_for(ctx.store.ping(), HEALTH_TIMEOUT_S)
    except Exception:
        alive = False
    engine = ctx.engine.health()
    if not alive:
        store = Check(_("Store"), "down", _("the store does not answer"))
    elif engine.store_retrying is not None:
        reason = _("the store refuses writes; retrying: {error}", error=engine.store_retrying)
        store = Check(_("Store"), "warn", reason)
    else:
        store = Check(_("Store"), "ok", _("answers and takes writes"))
    if engine.pump_alive:
        runner = Check(_("Engine"), "ok", _("running"))
    else:
        reason = engine.fault or _("not started")
        runner = Check(_("Engine"), "down", _("the engine is not running: {reason}", reason=reason))
    return [store, runner]


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


async def recent_failures(ctx: DashboardContext) -> list[RunRecord]:
    """The newest failed runs."""
    page = await ctx.store.list_runs(status="failed", limit=RECENT_FAILURES)
    return list(page.items)
