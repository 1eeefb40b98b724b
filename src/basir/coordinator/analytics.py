"""Reading the store for `scheduler.analytics`: the runs a window can involve, and their tasks.

Runs created in the window or the one before it (a task that starts now may belong to a run
created a while ago), plus every run still active, at most `MAX_RUNS` (newest first): the
cost follows the recent work, not the whole history.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from basir.scheduler.analytics import analytics

if TYPE_CHECKING:
    from basir.store.base import Store
    from basir.store.records import RunRecord, TaskRecord

MAX_RUNS = 10_000
PAGE = 200


async def scheduler_analytics(
    store: Store, window_s: float, now: float | None = None
) -> dict[str, Any]:
    """Queue waits, throughput, starvation and deadline hit rate over the last `window_s`."""
    now = time.time() if now is None else now
    oldest = now - 2 * window_s
    runs: dict[str, RunRecord] = {r.id: r for r in await store.active_runs()}
    cursor: str | None = None
    while len(runs) < MAX_RUNS:
        page = await store.list_runs(limit=PAGE, cursor=cursor)
        recent = [r for r in page.items if r.created_at >= oldest]
        runs.update((r.id, r) for r in recent)
        if len(recent) < len(page.items) or page.next is None:
            break
        cursor = page.next
    tasks: dict[str, list[TaskRecord]] = {}
    for run_id in list(runs)[:MAX_RUNS]:
        tasks[run_id] = await store.get_tasks(run_id)
    return {**analytics(runs.values(), tasks, now, window_s), "runs_scanned": len(tasks)}
