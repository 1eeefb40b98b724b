"""Reading the runs of a report window from the store, a page at a time (bounded memory).

Runs are read in creation order from `since`, a page at a time with only the columns the
report uses, and each page's task rows come in one read.  Only figures stay in memory, never
the runs themselves.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict

from basir.errors import BasirError
from basir.i18n import _
from basir.monitoring.history_query import bounded, parse_time
from basir.monitoring.report import PerformanceReport, ReportBuilder
from basir.monitoring.report_aggregate import report_of
from basir.spec.units import parse_duration
from basir.store.base import Store
from basir.store.records import TaskFacts

DEFAULT_WINDOW_S = 7 * 86400.0
PAGE_RUNS = 2000


def parse_moment(text: str | None, field_name: str, now: float) -> float | None:
    """Epoch seconds from ISO 8601, epoch seconds, or a duration ago (`24h`, `7d`)."""
    if text is None or not text.strip():
        return None
    try:
        ago = now - parse_duration(text.strip())
    except (ValueError, TypeError):
        ago = None
    try:
        return parse_time(text, field_name) if ago is None else bounded(ago, field_name)
    except BasirError as exc:
        raise BasirError(
            "report.bad_window",
            _("this report window is not valid"),
            details=[{"field": field_name, "message": exc.details[0]["message"]}],
        ) from exc


def window(
    since: str | None, until: str | None, now: float | None = None, *, field_prefix: str = ""
) -> tuple[float, float]:
    """`[since, until)` of a report: until defaults to now, since to a week before until.
    Errors name `since` and `until` after `field_prefix` (`query.` for the API)."""
    now = time.time() if now is None else now
    end = parse_moment(until, f"{field_prefix}until", now) or now
    start = parse_moment(since, f"{field_prefix}since", now)
    start = end - DEFAULT_WINDOW_S if start is None else start
    if start > end:
        raise BasirError(
            "report.bad_window",
            _("this report window is not valid"),
            details=[
                {"field": f"{field_prefix}since", "message": _("since must not be after until")}
            ],
        )
    return start, end


async def performance_report(store: Store, since: float, until: float) -> PerformanceReport:
    """The performance report of runs created in `[since, until)`.

    A SQL store computes the figures itself (`Store.report_aggregate`: counts by GROUP BY,
    percentiles with window functions), so no run crosses into Python.  Otherwise:

    Runs come a page at a time in creation order with only the columns the report reads
    (`Store.report_runs`), the top-level tasks of each page in one join
    (`Store.report_tasks`); while a page is folded the next one is being read.
    """
    aggregate = await store.report_aggregate(since, until)
    if aggregate is not None:
        return report_of(aggregate, since, until, time.time())
    builder = ReportBuilder(since, until)
    after: tuple[float, str] = (since, "")
    page = await store.report_runs(since, until, after, PAGE_RUNS)
    while page:
        last = (page[-1].created_at, page[-1].id)
        reading = asyncio.ensure_future(store.report_tasks(after, last))
        following = None
        if len(page) == PAGE_RUNS:
            following = asyncio.ensure_future(store.report_runs(since, until, last, PAGE_RUNS))
        try:
            rows = await reading
        except BaseException:
            if following is not None:
                following.cancel()
            raise
        tasks: dict[str, list[TaskFacts]] = defaultdict(list)
        for row in rows:
            tasks[row.run_id].append(row)
        for run in page:
            builder.add(run, tasks.get(run.id, ()))
        if following is None:
            break
        after, page = last, await following
    return builder.build(time.time())
