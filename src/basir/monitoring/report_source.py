"""Reading the runs of a report window from the store, a page at a time (bounded memory).

Runs are listed newest first; the walk stops at the first run created before `since`, and
each page's task rows come in one read (`Store.get_tasks_of`).  Only figures stay in memory,
never the runs themselves.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict

from basir.errors import BasirError
from basir.i18n import _
from basir.monitoring.history_query import parse_time
from basir.monitoring.report import PerformanceReport, ReportBuilder
from basir.spec.units import parse_duration
from basir.store.base import MAX_RUNS_PER_READ, Store
from basir.store.records import TaskRecord

DEFAULT_WINDOW_S = 7 * 86400.0
PAGE_RUNS = MAX_RUNS_PER_READ


def parse_moment(text: str | None, field_name: str, now: float) -> float | None:
    """Epoch seconds from ISO 8601, epoch seconds, or a duration ago (`24h`, `7d`)."""
    if text is None or not text.strip():
        return None
    try:
        return now - parse_duration(text.strip())
    except (ValueError, TypeError):
        pass
    try:
        return parse_time(text, field_name)
    except BasirError as exc:
        raise BasirError(
            "report.bad_window",
            _("this report window is not valid"),
            details=[
                {
                    "field": field_name,
                    "message": _("not an ISO 8601 time, epoch seconds or a duration such as 7d"),
                }
            ],
        ) from exc


def window(since: str | None, until: str | None, now: float | None = None) -> tuple[float, float]:
    """`[since, until)` of a report: until defaults to now, since to a week before until."""
    now = time.time() if now is None else now
    end = parse_moment(until, "until", now) or now
    start = parse_moment(since, "since", now)
    start = end - DEFAULT_WINDOW_S if start is None else start
    if start > end:
        raise BasirError(
            "report.bad_window",
            _("this report window is not valid"),
            details=[{"field": "since", "message": _("since must not be after until")}],
        )
    return start, end


async def performance_report(store: Store, since: float, until: float) -> PerformanceReport:
    """The performance report of runs created in `[since, until)`.

    While one page's task rows are read, the next page of runs is read too (the SQLite store
    has two reader threads; PostgreSQL two connections).
    """
    builder = ReportBuilder(since, until)
    page = await store.list_runs(limit=PAGE_RUNS)
    while True:
        inside = [run for run in page.items if since <= run.created_at < until]
        reading = asyncio.ensure_future(store.get_tasks_of([run.id for run in inside]))
        older = bool(page.items) and page.items[-1].created_at < since
        following = None
        if page.next is not None and not older:
            following = asyncio.ensure_future(store.list_runs(limit=PAGE_RUNS, cursor=page.next))
        try:
            rows = await reading
        except BaseException:
            if following is not None:
                following.cancel()
            raise
        tasks: dict[str, list[TaskRecord]] = defaultdict(list)
        for row in rows:
            tasks[row.run_id].append(row)
        for run in inside:
            builder.add(run, tasks[run.id])
        if following is None:
            return builder.build(time.time())
        page = await following
