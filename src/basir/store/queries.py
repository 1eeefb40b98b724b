"""Every statement the SQL stores run, as named SQLAlchemy Core builders.

Each builder returns a statement with explicit, named bind parameters; shapes that vary (the
fields of an update, the number of allowed statuses, which filters are set) are cached per
shape.  PostgreSQL executes these statements through SQLAlchemy; SQLite compiles each one once
to a SQL string (`compile_sqlite`) and runs it on the raw DBAPI connection of its writer and
readers; the texts it uses ship precompiled in `sqlite_catalog.json` (`store.sqlite_sql`), so
a SQLite store does not import SQLAlchemy.  Bind names: `k_*` keys, `v_*` new values, `s<i>`
allowed statuses.  The SQLite writer's multi-row writes are positional SQL text instead
(`store.sqlite_sql`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement

from basir.store.codec import (
    ACTIVE_RUN_STATUSES,
    EVENT_COLUMNS,
    EVENT_INSERT_COLUMNS,
    RUN_COLUMNS,
    TASK_COLUMNS,
    TASK_INSERT_COLUMNS,
    WORKFLOW_COLUMNS,
)
from basir.store.sqlite_sql import (  # re-exported: they were defined here first
    SqliteSql,
    insert_rows_sqlite,
    key_params,
    status_params,
    update_rows_sqlite,
)
from basir.store.tables import events, kv, runs, tasks, workflows

__all__ = [  # the re-exported names; every builder defined here is public too
    "SqliteSql",
    "insert_rows_sqlite",
    "key_params",
    "status_params",
    "update_rows_sqlite",
]

_SQLITE = sqlite.dialect(paramstyle="named")

_RUN_COLS = [runs.c[n] for n in RUN_COLUMNS]
_TASK_COLS = [tasks.c[n] for n in TASK_COLUMNS]
_EVENT_COLS = [events.c[n] for n in EVENT_COLUMNS]
_WORKFLOW_COLS = [workflows.c[n] for n in WORKFLOW_COLUMNS]


@lru_cache(maxsize=1024)
def compile_sqlite(stmt: sa.ClauseElement) -> SqliteSql:
    """A statement compiled once for SQLite's raw DBAPI connection."""
    compiled = stmt.compile(dialect=_SQLITE)
    assert isinstance(compiled, SQLCompiler)
    fixed = {
        name: bind.effective_value
        for name, bind in compiled.binds.items()
        if not bind.required and name in compiled.params
    }
    return SqliteSql(str(compiled), fixed)


def _bind(name: str) -> sa.BindParameter[Any]:
    return sa.bindparam(name)


def _statuses(column: sa.Column[Any], n_from: int | None) -> list[ColumnElement[bool]]:
    if n_from is None:
        return []
    return [column.in_([_bind(f"s{i}") for i in range(n_from)])]


def _key(kind: str) -> list[ColumnElement[bool]]:
    if kind == "run":
        return [runs.c.id == _bind("k_id")]
    return [tasks.c.run_id == _bind("k_run_id"), tasks.c.task_id == _bind("k_task_id")]


def _table(kind: str) -> sa.Table:
    return runs if kind == "run" else tasks


# --- writes -------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def insert_run() -> sa.Insert:
    """Insert one run; parameters named as `RUN_COLUMNS`."""
    return sa.insert(runs).values({n: _bind(n) for n in RUN_COLUMNS})


@lru_cache(maxsize=1)
def insert_task() -> sa.Insert:
    """Insert one task; parameters named as `TASK_COLUMNS` plus `seq`."""
    return sa.insert(tasks).values({n: _bind(n) for n in TASK_INSERT_COLUMNS})


@lru_cache(maxsize=1)
def next_task_seq() -> sa.Select[Any]:
    """The `seq` the next task inserted into run `k_run_id` gets."""
    return sa.select(sa.func.coalesce(sa.func.max(tasks.c.seq) + 1, 0)).where(
        tasks.c.run_id == _bind("k_run_id")
    )


@lru_cache(maxsize=1)
def insert_event() -> sa.Insert:
    """Insert one event; the database assigns its id."""
    return sa.insert(events).values({n: _bind(n) for n in EVENT_INSERT_COLUMNS})


@lru_cache(maxsize=1024)
def guarded_update(kind: str, fields: tuple[str, ...], n_from: int | None) -> sa.Update:
    """`UPDATE <runs|tasks> SET <v_fields> WHERE <key> AND status IN (<s0..>)`.

    No row updated means the row is missing or its status is not an allowed one.
    """
    table = _table(kind)
    return (
        sa.update(table)
        .values({f: _bind(f"v_{f}") for f in fields})
        .where(*_key(kind), *_statuses(table.c.status, n_from))
    )


@lru_cache(maxsize=64)
def guard_check(kind: str, n_from: int | None) -> sa.Select[Any]:
    """One row when the run or task exists and its status is allowed (an update of no field)."""
    table = _table(kind)
    return sa.select(sa.literal(1)).where(*_key(kind), *_statuses(table.c.status, n_from))


@lru_cache(maxsize=2)
def current_status(kind: str) -> sa.Select[Any]:
    """The status of one run or task (no row: it does not exist)."""
    return sa.select(_table(kind).c.status).where(*_key(kind))


@lru_cache(maxsize=1)
def insert_workflow() -> sa.Insert:
    """Insert one workflow version; parameters named as `WORKFLOW_COLUMNS`."""
    return sa.insert(workflows).values({n: _bind(n) for n in WORKFLOW_COLUMNS})


@lru_cache(maxsize=4)
def kv_put(dialect: str, only_if_absent: bool) -> sa.Insert:
    """Insert a kv document, replacing an existing one unless `only_if_absent`."""
    # Both dialects' INSERTs have the same ON CONFLICT API but no common type.
    stmt: Any
    if dialect == "sqlite":
        stmt = sqlite.insert(kv)
    else:
        from sqlalchemy.dialects import postgresql  # only a PostgreSQL store pays its import

        stmt = postgresql.insert(kv)
    stmt = stmt.values(
        kind=_bind("kind"), key=_bind("key"), value=_bind("value"), updated_at=_bind("updated_at")
    )
    if only_if_absent:
        done: sa.Insert = stmt.on_conflict_do_nothing(index_elements=[kv.c.kind, kv.c.key])
        return done
    upsert: sa.Insert = stmt.on_conflict_do_update(
        index_elements=[kv.c.kind, kv.c.key],
        set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
    )
    return upsert


# --- reads --------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def select_run() -> sa.Select[Any]:
    """One run by `k_id`."""
    return sa.select(*_RUN_COLS).where(runs.c.id == _bind("k_id"))


@lru_cache(maxsize=1)
def select_tasks() -> sa.Select[Any]:
    """Every task of run `k_run_id`, in insertion order."""
    return (
        sa.select(*_TASK_COLS)
        .where(tasks.c.run_id == _bind("k_run_id"))
        .order_by(tasks.c.seq, tasks.c.task_id)
    )


@lru_cache(maxsize=64)
def select_tasks_of(n_runs: int) -> sa.Select[Any]:
    """Every task of runs `r0..r<n-1>`, by run and insertion order."""
    return (
        sa.select(*_TASK_COLS)
        .where(tasks.c.run_id.in_([_bind(f"r{i}") for i in range(n_runs)]))
        .order_by(tasks.c.run_id, tasks.c.seq, tasks.c.task_id)
    )


@lru_cache(maxsize=8)
def list_runs(has_status: bool, has_workflow: bool, has_cursor: bool) -> sa.Select[Any]:
    """A page of runs, newest first (`id` breaks ties), `limit` rows after the cursor."""
    stmt = sa.select(*_RUN_COLS)
    if has_status:
        stmt = stmt.where(runs.c.status == _bind("status"))
    if has_workflow:
        stmt = stmt.where(runs.c.workflow == _bind("workflow"))
    if has_cursor:
        at = _bind("c_at")
        stmt = stmt.where(
            sa.or_(
                runs.c.created_at < at, sa.and_(runs.c.created_at == at, runs.c.id < _bind("c_id"))
            )
        )
    return stmt.order_by(runs.c.created_at.desc(), runs.c.id.desc()).limit(_bind("limit"))


@lru_cache(maxsize=1)
def active_runs() -> sa.Select[Any]:
    """Runs a restart must resume, oldest first (statuses bound as `s0..`)."""
    return (
        sa.select(*_RUN_COLS)
        .where(*_statuses(runs.c.status, len(ACTIVE_RUN_STATUSES)))
        .order_by(runs.c.created_at, runs.c.id)
    )


@lru_cache(maxsize=256)
def list_events(has_run: bool, has_workflow: bool, n_types: int | None) -> sa.Select[Any]:
    """Events with `id > after`, oldest first, filtered, at most `limit`."""
    stmt = sa.select(*_EVENT_COLS).where(events.c.id > _bind("after"))
    if has_run:
        stmt = stmt.where(events.c.run_id == _bind("run_id"))
    if has_workflow:
        stmt = stmt.where(events.c.workflow == _bind("workflow"))
    if n_types is not None:
        stmt = stmt.where(*_statuses(events.c.type, n_types))
    return stmt.order_by(events.c.id).limit(_bind("limit"))


@lru_cache(maxsize=2)
def export_events(has_workflow: bool) -> sa.Select[Any]:
    """`(id, time, type, subject, data)` of events with `id > after`, oldest first, at most
    `limit`: what an export writes, no more (`run_id`, `workflow` and `task_id` are not)."""
    stmt = sa.select(events.c.id, events.c.time, events.c.type, events.c.subject, events.c.data)
    stmt = stmt.where(events.c.id > _bind("after"))
    if has_workflow:
        stmt = stmt.where(events.c.workflow == _bind("workflow"))
    return stmt.order_by(events.c.id).limit(_bind("limit"))


@lru_cache(maxsize=1)
def last_event_id() -> sa.Select[Any]:
    """The newest event id, 0 when there is none."""
    return sa.select(sa.func.coalesce(sa.func.max(events.c.id), 0))


@lru_cache(maxsize=1)
def latest_workflow() -> sa.Select[Any]:
    """The newest version of workflow `name`."""
    return (
        sa.select(*_WORKFLOW_COLS)
        .where(workflows.c.name == _bind("name"))
        .order_by(workflows.c.version.desc())
        .limit(1)
    )


@lru_cache(maxsize=1)
def workflow_version() -> sa.Select[Any]:
    """Version `version` of workflow `name`."""
    return sa.select(*_WORKFLOW_COLS).where(
        workflows.c.name == _bind("name"), workflows.c.version == _bind("version")
    )


@lru_cache(maxsize=1)
def latest_workflows() -> sa.Select[Any]:
    """The newest version of every workflow, by name."""
    newest = (
        sa.select(workflows.c.name, sa.func.max(workflows.c.version).label("version"))
        .group_by(workflows.c.name)
        .subquery()
    )
    return (
        sa.select(*_WORKFLOW_COLS)
        .join(
            newest,
            sa.and_(workflows.c.name == newest.c.name, workflows.c.version == newest.c.version),
        )
        .order_by(workflows.c.name)
    )


@lru_cache(maxsize=1)
def workflow_versions() -> sa.Select[Any]:
    """Every version of workflow `name`, oldest first."""
    return (
        sa.select(*_WORKFLOW_COLS)
        .where(workflows.c.name == _bind("name"))
        .order_by(workflows.c.version)
    )


@lru_cache(maxsize=1)
def kv_get() -> sa.Select[Any]:
    """One kv document's value."""
    return sa.select(kv.c.value).where(kv.c.kind == _bind("kind"), kv.c.key == _bind("key"))


@lru_cache(maxsize=1)
def kv_delete() -> sa.Delete:
    """Remove one kv document."""
    return sa.delete(kv).where(kv.c.kind == _bind("kind"), kv.c.key == _bind("key"))


@lru_cache(maxsize=1)
def kv_list() -> sa.Select[Any]:
    """Keys and values of one kind, by key, at most `limit`."""
    return (
        sa.select(kv.c.key, kv.c.value)
        .where(kv.c.kind == _bind("kind"))
        .order_by(kv.c.key)
        .limit(_bind("limit"))
    )
