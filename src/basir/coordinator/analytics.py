"""Reading the store for `scheduler.analytics`: the runs a window can involve, and their tasks.

Runs created in the window or the one before it (a task that starts now may belong to a run
created a while ago), plus every run still active, at most `MAX_RUNS` (newest first): the
cost follows the recent work, not the whole history.  Each pinned workflow version is read
once, for its tasks' own `priority:` and `deadline:` (`TaskFacts`).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from basir.scheduler.analytics import TaskFacts, analytics
from basir.scheduler.deadlines import task_deadline_at

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
    specs = await _task_specs(store, [runs[run_id] for run_id in tasks])

    def facts(run: RunRecord, task: TaskRecord) -> TaskFacts:
        own = task.spec or specs[run.workflow, run.version].get(task.parent_id or task.task_id)
        priority = own.get("priority") if own else None
        deadline_s = own.get("deadline") if own else None
        return TaskFacts(
            priority if isinstance(priority, int) else run.priority,
            task_deadline_at(
                run.deadline_at,
                run.started_at,
                float(deadline_s) if isinstance(deadline_s, int | float) else None,
            ),
        )

    found = analytics(runs.values(), tasks, now, window_s, facts)
    return {**found, "runs_scanned": len(tasks)}


async def _task_specs(
    store: Store, runs: list[RunRecord]
) -> dict[tuple[str, int], dict[str, dict[str, Any]]]:
    """Each pinned version's task specs by task id (empty when the version is gone)."""
    specs: dict[tuple[str, int], dict[str, dict[str, Any]]] = {}
    for run in runs:
        key = (run.workflow, run.version)
        if key in specs:
            continue
        version = await store.get_workflow(*key)
        listed = version.spec.get("tasks") if version is not None else None
        specs[key] = {
            str(task["id"]): task
            for task in (listed if isinstance(listed, list) else [])
            if isinstance(task, dict) and "id" in task
        }
    return specs
