"""The statements of the audit log, as named SQLAlchemy Core builders."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from basir.store.audit_records import AUDIT_COLUMNS
from basir.store.tables import audit_log


@lru_cache(maxsize=1)
def insert_entry() -> sa.Insert:
    """Insert one sealed entry (its id included)."""
    return sa.insert(audit_log).values({n: sa.bindparam(n) for n in AUDIT_COLUMNS})


@lru_cache(maxsize=1)
def last_entry() -> sa.Select[Any]:
    """The id and hash of the newest entry (no row when the log is empty)."""
    return sa.select(audit_log.c.id, audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)


@lru_cache(maxsize=32)
def list_entries(
    direction: str | None, has_actor: bool, has_since: bool, has_until: bool
) -> sa.Select[Any]:
    """Entries filtered, at most `limit`: oldest first after `after_id` (`direction` "after"),
    else newest first (below `before_id` when `direction` is "before")."""
    stmt = sa.select(*(audit_log.c[n] for n in AUDIT_COLUMNS))
    if direction == "after":
        stmt = stmt.where(audit_log.c.id > sa.bindparam("after_id"))
    elif direction == "before":
        stmt = stmt.where(audit_log.c.id < sa.bindparam("before_id"))
    if has_actor:
        stmt = stmt.where(audit_log.c.actor == sa.bindparam("actor"))
    if has_since:
        stmt = stmt.where(audit_log.c.time >= sa.bindparam("since"))
    if has_until:
        stmt = stmt.where(audit_log.c.time < sa.bindparam("until"))
    order = audit_log.c.id.asc() if direction == "after" else audit_log.c.id.desc()
    return stmt.order_by(order).limit(sa.bindparam("limit"))
