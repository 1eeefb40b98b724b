"""The statements of the performance report, as named SQLAlchemy Core builders.

The report needs a handful of columns of every run created in its window and of their
tasks, not whole records: reading only those (no params, outputs or specs to decode) is what
keeps a report over 100,000 runs under two seconds (bench/monitoring_bench.py).  Runs are
read a page at a time in `(created_at, id)` order (the `runs(created_at, id)` index), and
the tasks of a page in one join over the same bounds.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from basir.store.tables import runs, tasks

REPORT_RUN_COLUMNS = (
    "id",
    "workflow",
    "status",
    "created_at",
    "started_at",
    "finished_at",
    "deadline_at",
    "error",
)
REPORT_TASK_COLUMNS = (
    "run_id",
    "task_id",
    "status",
    "attempts",
    "queued_at",
    "started_at",
    "finished_at",
    "error",
)


def _after(created_at: Any, run_id: Any, at: str, key: str) -> sa.ColumnElement[bool]:
    """`(created_at, id) > (:at, :key)`, spelt so both SQLite and PostgreSQL use the index."""
    return sa.and_(
        created_at >= sa.bindparam(at),
        sa.or_(created_at > sa.bindparam(at), run_id > sa.bindparam(key)),
    )


@lru_cache(maxsize=1)
def report_runs() -> sa.Select[Any]:
    """The next `limit` runs created in `[since, until)` after `(after_at, after_id)`."""
    c = runs.c
    return (
        sa.select(*(c[n] for n in REPORT_RUN_COLUMNS))
        .where(
            c.created_at >= sa.bindparam("since"),
            c.created_at < sa.bindparam("until"),
            _after(c.created_at, c.id, "after_at", "after_id"),
        )
        .order_by(c.created_at, c.id)
        .limit(sa.bindparam("limit"))
    )


@lru_cache(maxsize=1)
def report_tasks() -> sa.Select[Any]:
    """Top-level tasks of the runs in `((after_at, after_id), (last_at, last_id)]`.

    A task's error is read only when it failed (the only time the report uses it).
    """
    r, t = runs.c, tasks.c
    error = sa.case((t.status == "failed", t.error), else_=sa.null())
    columns = [t[n] for n in REPORT_TASK_COLUMNS[:-1]]
    return (
        sa.select(*columns, error)
        .select_from(tasks.join(runs, r.id == t.run_id))
        .where(
            _after(r.created_at, r.id, "after_at", "after_id"),
            r.created_at <= sa.bindparam("last_at"),
            sa.or_(r.created_at < sa.bindparam("last_at"), r.id <= sa.bindparam("last_id")),
            t.parent_id.is_(None),
        )
    )


# ------------------------------------------------------------------------ SQL aggregation
# The same figures computed by the database: run counts by GROUP BY, failures as the failed
# rows only, and per task a narrow row (status, attempts, duration, wait) the report counts
# and sorts (ranking with window functions in SQLite cost more than sorting in Python).

FINAL = ("succeeded", "failed", "cancelled")
_FINAL_SQL: list[sa.ColumnElement[Any]] = [
    sa.literal_column(f"'{status}'") for status in FINAL
]  # constants, not params


def _in_window(created_at: Any) -> sa.ColumnElement[bool]:
    return sa.and_(created_at >= sa.bindparam("since"), created_at < sa.bindparam("until"))


def _count_if(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _spread(later: Any, earlier: Any) -> sa.ColumnElement[Any]:
    """`max(0, later - earlier)`, spelt for both dialects."""
    return sa.case((later > earlier, later - earlier), else_=sa.literal(0.0))


@lru_cache(maxsize=1)
def count_runs() -> sa.Select[Any]:
    """Per workflow: runs, in progress, outcomes, deadline runs and hits."""
    c = runs.c
    final = c.status.in_(_FINAL_SQL)
    with_deadline = sa.and_(final, c.deadline_at.is_not(None))
    return (
        sa.select(
            c.workflow,
            sa.func.count(),
            _count_if(sa.not_(final)),
            _count_if(c.status == "succeeded"),
            _count_if(c.status == "failed"),
            _count_if(c.status == "cancelled"),
            _count_if(with_deadline),
            _count_if(sa.and_(with_deadline, c.finished_at <= c.deadline_at)),
        )
        .where(_in_window(c.created_at))
        .group_by(c.workflow)
    )


def _final_tasks() -> tuple[Any, Any, sa.ColumnElement[bool]]:
    r, t = runs.c, tasks.c
    where = sa.and_(_in_window(r.created_at), r.status.in_(_FINAL_SQL), t.parent_id.is_(None))
    return r, t, where


@lru_cache(maxsize=1)
def run_values() -> sa.Select[Any]:
    """`(workflow, duration)` of the ended runs that started and finished."""
    c = runs.c
    return sa.select(c.workflow, _spread(c.finished_at, c.started_at)).where(
        _in_window(c.created_at),
        c.status.in_(_FINAL_SQL),
        c.started_at.is_not(None),
        c.finished_at.is_not(None),
    )


@lru_cache(maxsize=1)
def task_values() -> sa.Select[Any]:
    """`(workflow, task, status, attempts, duration, queue wait)` of the top-level tasks of the
    ended runs.

    Duration or wait is NULL when one of its ends is unknown.  Outcomes and retries are
    counted from these rows too: one join over the tasks instead of two (a `GROUP BY` of its
    own cost more than counting here; the bench).
    """
    r, t, where = _final_tasks()
    duration = sa.case(
        (sa.or_(t.started_at.is_(None), t.finished_at.is_(None)), sa.null()),
        else_=_spread(t.finished_at, t.started_at),
    )
    wait = sa.case(
        (sa.or_(t.started_at.is_(None), t.queued_at.is_(None)), sa.null()),
        else_=_spread(t.started_at, t.queued_at),
    )
    return (
        sa.select(r.workflow, t.task_id, t.status, t.attempts, duration, wait)
        .select_from(tasks.join(runs, r.id == t.run_id))
        .where(where)
    )


@lru_cache(maxsize=1)
def failed_tasks() -> sa.Select[Any]:
    """`(workflow, task, run_id, run_status, error)` of the failed top-level tasks."""
    r, t, where = _final_tasks()
    return (
        sa.select(r.workflow, t.task_id, t.run_id, r.status, t.error)
        .select_from(tasks.join(runs, r.id == t.run_id))
        .where(where, t.status == "failed")
    )


@lru_cache(maxsize=1)
def failed_runs() -> sa.Select[Any]:
    """`(workflow, id, error)` of the failed runs."""
    c = runs.c
    return sa.select(c.workflow, c.id, c.error).where(
        _in_window(c.created_at), c.status == "failed"
    )
