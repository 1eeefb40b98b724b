"""Schedules in SQL: the named statements and row codec both SQL stores share.

Statements are SQLAlchemy Core, built once (`lru_cache`); SQLite runs them compiled by
`queries.compile_sqlite`, PostgreSQL as they are.  A schedule write is guarded by its
`revision` (`WHERE id = :k_id AND revision = :k_revision`) and bumps it, so of two writers
that read the same row only one wins; the loser gets a `ConflictError` and nothing it wrote
lands (its run included).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from basir.store import codec
from basir.store.base import ConflictError, NotFoundError
from basir.store.records import ScheduleRecord, ScheduleUpdate
from basir.store.tables import schedules

SCHEDULE_COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(ScheduleRecord))
# Written when an entry is registered or its definition changes; the rest is the clock's state.
DEFINITION_COLUMNS = ("workflow", "position", "cron", "timezone", "options", "spec_hash")
UPDATABLE = frozenset(SCHEDULE_COLUMNS) - {"id", "revision", "created_at", *DEFINITION_COLUMNS}
_JSON = ("options", "queued")


def _bind(name: str) -> sa.BindParameter[Any]:
    return sa.bindparam(name)


def row(record: ScheduleRecord) -> dict[str, Any]:
    """Column values of a schedule, JSON encoded."""
    values = {name: getattr(record, name) for name in SCHEDULE_COLUMNS}
    for name in _JSON:
        values[name] = codec.dumps(values[name])
    return values


def decode(values: Sequence[Any]) -> ScheduleRecord:
    """A schedule from a row in `SCHEDULE_COLUMNS` order."""
    found = dict(zip(SCHEDULE_COLUMNS, values, strict=True))
    for name in _JSON:
        found[name] = codec.loads(found[name])
    found["paused"] = bool(found["paused"])
    return ScheduleRecord(**found)


def update_values(change: ScheduleUpdate) -> dict[str, Any]:
    """The columns a `ScheduleUpdate` writes, checked and encoded (`v_` prefixed)."""
    unknown = set(change.fields) - UPDATABLE
    if unknown:
        raise ValueError(f"schedule fields not updatable: {sorted(unknown)}")
    values = dict(change.fields)
    if "queued" in values:
        values["queued"] = codec.dumps(values["queued"])
    return {f"v_{name}": value for name, value in values.items()}


def lost(change: ScheduleUpdate, revision: int | None) -> Exception:
    """Why a guarded schedule write touched no row: gone, or changed since it was read."""
    if revision is None:
        return NotFoundError(f"schedule {change.id} not found")
    return ConflictError(
        f"schedule {change.id} is at revision {revision}, not {change.revision}: changed since read"
    )


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


@lru_cache(maxsize=1)
def select_due() -> sa.Select[Any]:
    """Unpaused schedules whose fire is due, or that hold queued fires; soonest first."""
    due = sa.or_(schedules.c.due_at <= _bind("now"), schedules.c.queued != "[]")
    return (
        sa.select(*_columns())
        .where(schedules.c.paused == sa.false(), due)
        .order_by(schedules.c.due_at)
        .limit(_bind("limit"))
    )


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


def update_params(change: ScheduleUpdate) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The sorted field names and the parameters of a guarded schedule write."""
    values = update_values(change)
    fields = tuple(sorted(name[2:] for name in values))
    return fields, {**values, "k_id": change.id, "k_revision": change.revision}


def apply_update_in_memory(record: ScheduleRecord, fields: Mapping[str, Any]) -> None:
    """Apply a checked update's fields to an in-memory record and bump its revision."""
    update_values(ScheduleUpdate(record.id, record.revision, dict(fields)))  # checks names
    for name, value in fields.items():
        setattr(record, name, list(value) if name == "queued" else value)
    record.revision += 1
