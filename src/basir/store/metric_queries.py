"""The statements of the metric history (`metric_points`), as named SQLAlchemy Core builders.

Points are upserted (a rollup's minute or hour is rewritten by each sample that falls in it,
last value wins), read by name, resolution and time range, and pruned by age per resolution.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from basir.store.monitoring_codec import POINT_COLUMNS, POINT_READ_COLUMNS
from basir.store.tables import metric_points

_READ_COLUMNS = POINT_READ_COLUMNS


@lru_cache(maxsize=2)
def upsert_point(dialect: str) -> sa.Insert:
    """Insert one point, or replace the value of the point already at its key."""
    stmt: Any
    if dialect == "sqlite":
        stmt = sqlite.insert(metric_points)
    else:
        from sqlalchemy.dialects import postgresql  # only a PostgreSQL store pays its import

        stmt = postgresql.insert(metric_points)
    stmt = stmt.values({n: sa.bindparam(n) for n in POINT_COLUMNS})
    upsert: sa.Insert = stmt.on_conflict_do_update(
        index_elements=[metric_points.c[n] for n in POINT_COLUMNS[:4]],
        set_={"value": stmt.excluded.value},
    )
    return upsert


@lru_cache(maxsize=1)
def select_points() -> sa.Select[Any]:
    """Points of one name at one resolution with `start <= time <= end`, by time, then
    labels: the order of the covering index `(name, resolution_s, time, labels, value)`, so
    the database reads one range of it and sorts nothing."""
    c = metric_points.c
    return (
        sa.select(*(c[n] for n in _READ_COLUMNS))
        .where(
            c.name == sa.bindparam("name"),
            c.resolution_s == sa.bindparam("resolution_s"),
            c.time >= sa.bindparam("start"),
            c.time <= sa.bindparam("end"),
        )
        .order_by(c.time, c.labels)
    )


@lru_cache(maxsize=1)
def select_names() -> sa.Select[Any]:
    """Every metric name with at least one point, sorted."""
    return sa.select(metric_points.c.name).distinct().order_by(metric_points.c.name)


@lru_cache(maxsize=1)
def delete_older() -> sa.Delete:
    """Delete the points of one resolution older than `before`."""
    c = metric_points.c
    return sa.delete(metric_points).where(
        c.resolution_s == sa.bindparam("resolution_s"), c.time < sa.bindparam("before")
    )
