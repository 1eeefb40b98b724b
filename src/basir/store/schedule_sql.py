"""Schedules in SQL: the named statements both SQL stores share (codec: `schedule_codec`).

Statements are SQLAlchemy Core, built once (`lru_cache`); SQLite runs them compiled by
`queries.compile_sqlite`, PostgreSQL as they are.  A schedule write is guarded by its
`revision` (`WHERE id = :k_id AND revision = :k_revision`) and bumps it, so of two writers
that read the same row only one wins; the loser gets a `ConflictError` and nothing it wrote
lands (its run included).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from basir.store.schedule_codec import DEFINITION_COLUMNS, RUN_STATUS_CHUNK, SCHEDULE_COLUMNS
from basir.store.tables import schedules


def _bind(name: str) -> sa.BindParameter[Any]:
    return sa.bindparam(name)


@lru_cache(maxsize=2)
def upsert(dialect: str) -> sa.Insert:
    """Register an entry; an existing one changes only when its definition did.

    A changed definition takes the new clock (next fire) and keeps the pause flag and the
    history (last fire, last run, queued fires).
    """
    stmt: Any
    if dialect == "sqlite":
        stmt = sqlite.insert(schedules)
    else:
        from sqlalchemy.dialects import postgresql

        stmt = postgresql.insert(schedules)
    stmt = stmt.values({name: _bind(name) for name in SCHEDULE_COLUMNS})
    changed = {name: stmt.excluded[name] for name in DEFINITION_COLUMNS}
    changed.update(
        next_fire_at=stmt.excluded.next_fire_at,
        due_at=stmt.excluded.due_at,
        updated_at=stmt.excluded.updated_at,
        revision=schedules.c.revision + 1,
    )
    upserted: sa.Insert = stmt.on_conflict_do_update(
        index_elements=[schedules.c.id],
        set_=changed,
        where=schedules.c.spec_hash != stmt.excluded.spec_hash,
    )
    return upserted


@lru_cache(maxsize=1)
def delete_one() -> sa.Delete:
    """Remove one schedule (its entry left the workflow)."""
    return sa.delete(schedules).where(schedules.c.id == _bind("id"))


@lru_cache(maxsize=1)
def ids_of_workflow() -> sa.Select[Any]:
    """The ids of one workflow's `on.schedule` rows (one-offs, position < 0, excluded)."""
    return sa.select(schedules.c.id).where(
        schedules.c.workflow == _bind("workflow"), schedules.c.position >= 0
    )


@lru_cache(maxsize=1)
def insert() -> sa.Insert:
    """Insert one schedule; parameters named as `SCHEDULE_COLUMNS`."""
    return sa.insert(schedules).values({name: _bind(name) for name in SCHEDULE_COLUMNS})


def _columns() -> list[sa.Column[Any]]:
    return [schedules.c[name] for name in SCHEDULE_COLUMNS]


@lru_cache(maxsize=2)
def select_all(has_workflow: bool) -> sa.Select[Any]:
    """Every schedule (of one workflow), by workflow and position."""
    stmt = sa.select(*_columns()).order_by(schedules.c.workflow, schedules.c.position)
    if has_workflow:
        stmt = stmt.where(schedules.c.workflow == _bind("workflow"))
    return stmt


@lru_cache(maxsize=1)
def select_one() -> sa.Select[Any]:
    """One schedule by id."""
    return sa.select(*_columns()).where(schedules.c.id == _bind("id"))


# A fire waiting in a schedule's queue (`overlap: queue`); a literal, not a parameter, so
# the planner matches it to the partial index `ix_schedules_queued` (tables.py).
HAS_QUEUED = "queued != '[]'"


@lru_cache(maxsize=1)
def select_due() -> sa.Select[Any]:
    """Unpaused schedules whose fire is due, soonest first: a range search of the `due_at`
    index, so it reads the due rows and no others."""
    return (
        sa.select(*_columns())
        .where(schedules.c.due_at <= _bind("now"), schedules.c.paused == sa.false())
        .order_by(schedules.c.due_at)
        .limit(_bind("limit"))
    )


@lru_cache(maxsize=1)
def select_queued() -> sa.Select[Any]:
    """Unpaused schedules holding queued fires (`overlap: queue`), through a partial index."""
    return (
        sa.select(*_columns())
        .where(sa.text(HAS_QUEUED), schedules.c.paused == sa.false())
        .order_by(schedules.c.id)
        .limit(_bind("limit"))
    )


@lru_cache(maxsize=1)
def select_run_statuses() -> sa.Select[Any]:
    """`(id, status)` of up to `RUN_STATUS_CHUNK` runs (`r0`, `r1`, ... parameters)."""
    from basir.store.tables import runs

    wanted = [_bind(f"r{i}") for i in range(RUN_STATUS_CHUNK)]
    return sa.select(runs.c.id, runs.c.status).where(runs.c.id.in_(wanted))


@lru_cache(maxsize=1)
def next_due() -> sa.Select[Any]:
    """The soonest `due_at` of an unpaused schedule (NULL when none)."""
    return sa.select(sa.func.min(schedules.c.due_at)).where(schedules.c.paused == sa.false())


@lru_cache(maxsize=64)
def guarded_update(fields: tuple[str, ...]) -> sa.Update:
    """Write `fields` (`v_<name>` parameters) and bump the revision, if still at `k_revision`."""
    values: dict[str, Any] = {name: _bind(f"v_{name}") for name in fields}
    values["revision"] = schedules.c.revision + 1
    return (
        sa.update(schedules)
        .where(schedules.c.id == _bind("k_id"), schedules.c.revision == _bind("k_revision"))
        .values(values)
    )


@lru_cache(maxsize=1)
def current_revision() -> sa.Select[Any]:
    """A schedule's revision, to say why a guarded write lost."""
    return sa.select(schedules.c.revision).where(schedules.c.id == _bind("k_id"))
