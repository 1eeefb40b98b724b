"""The statements of the alerts table, as named SQLAlchemy Core builders."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from basir.store.monitoring_codec import ALERT_COLUMNS
from basir.store.tables import alerts


@lru_cache(maxsize=2)
def upsert_alert(dialect: str) -> sa.Insert:
    """Insert an alert, or replace every field of the one with its id."""
    stmt: Any
    if dialect == "sqlite":
        stmt = sqlite.insert(alerts)
    else:
        from sqlalchemy.dialects import postgresql  # only a PostgreSQL store pays its import

        stmt = postgresql.insert(alerts)
    stmt = stmt.values({n: sa.bindparam(n) for n in ALERT_COLUMNS})
    upsert: sa.Insert = stmt.on_conflict_do_update(
        index_elements=[alerts.c.id],
        set_={n: stmt.excluded[n] for n in ALERT_COLUMNS if n != "id"},
    )
    return upsert


@lru_cache(maxsize=1)
def select_alert() -> sa.Select[Any]:
    """One alert by `id`."""
    return sa.select(*(alerts.c[n] for n in ALERT_COLUMNS)).where(alerts.c.id == sa.bindparam("id"))


@lru_cache(maxsize=4)
def list_alerts(has_state: bool, has_workflow: bool) -> sa.Select[Any]:
    """Alerts, most recently fired first, filtered, at most `limit`."""
    stmt = sa.select(*(alerts.c[n] for n in ALERT_COLUMNS))
    if has_state:
        stmt = stmt.where(alerts.c.state == sa.bindparam("state"))
    if has_workflow:
        stmt = stmt.where(alerts.c.workflow == sa.bindparam("workflow"))
    return stmt.order_by(alerts.c.fired_at.desc(), alerts.c.id.desc()).limit(sa.bindparam("limit"))
