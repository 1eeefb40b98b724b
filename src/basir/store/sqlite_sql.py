"""The SQLite text of the embedded store's statements, without importing SQLAlchemy.

Every statement is defined once, as a SQLAlchemy Core builder in `store.queries`.  Importing
SQLAlchemy costs a fresh `basir run` about a third of its time, so the SQLite texts those
builders compile to are shipped in `sqlite_catalog.json` (written by
`python -m basir.store.sqlite_catalog_build`; a test regenerates it and fails on any
difference).  `statement(name, *args)` looks a statement up there and compiles the builder
only on a miss.  A name is a builder of `store.queries` (`"list_runs"`) or of another module
of `basir.store` (`"schedule_sql.select_due"`).  The catalogue lists the files its SQL comes
from (`tables.py`, `codec.py` and every builder module) with a fingerprint of their text:
when one changes and the catalogue is not regenerated, it is ignored as a whole, so a stale
catalogue makes the store slower, never wrong.  The same holds for the schema: its revision
and DDL come from the catalogue when it is current, else from SQLAlchemy and Alembic
(`store.schema`).

The SQLite writer's multi-row writes are positional SQL text built here directly (see
"SQLite bulk writes" below).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from basir.store.codec import (
    EVENT_INSERT_COLUMNS,
    FRESH_TASK_COLUMNS,
    RUN_COLUMNS,
    TASK_INSERT_COLUMNS,
)
from basir.store.records import RunUpdate, TaskUpdate

HERE = Path(__file__).resolve().parent
CATALOG_PATH = HERE / "sqlite_catalog.json"
# The files every catalogued text depends on besides the builder modules themselves.
BASE_SOURCES = ("tables.py", "codec.py")


@dataclass(frozen=True, slots=True)
class SqliteSql:
    """A statement compiled for SQLite: `:name` parameters, plus the values of its literals."""

    text: str
    # Values of the anonymous parameters SQLAlchemy made for literals (`OFFSET 0`, `+ 1`).
    fixed: dict[str, Any]

    def params(self, values: dict[str, Any]) -> dict[str, Any]:
        """The parameters to execute with: the literals' values plus `values`."""
        return {**self.fixed, **values} if self.fixed else values


def fingerprint(sources: list[str]) -> str:
    """A hash of these files of `basir/store` (names and text); '' when one cannot be read."""
    digest = hashlib.sha256()
    for name in sorted(set(sources)):
        try:
            text = (HERE / name).read_bytes()
        except OSError:
            return ""
        digest.update(name.encode() + b"\0" + text + b"\0")
    return digest.hexdigest()


def builder_module(name: str) -> str:
    """The module of `basir.store` that defines builder `name` (`queries` by default)."""
    module, _dot, _builder = name.rpartition(".")
    return module or "queries"


def statement_key(name: str, *args: Any) -> str:
    """The catalogue key of builder `name` called with `args` (tuples read as lists)."""
    return json.dumps([name, *args], separators=(",", ":"))


@lru_cache(maxsize=1)
def catalog() -> dict[str, Any] | None:
    """The shipped catalogue when it matches the sources, else None (use SQLAlchemy)."""
    try:
        data: dict[str, Any] = json.loads(CATALOG_PATH.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    sources = data.get("sources")
    if not isinstance(sources, list) or not set(BASE_SOURCES) <= set(sources):
        return None
    current = fingerprint(sources)
    if not current or data.get("fingerprint") != current:
        return None
    return data


@lru_cache(maxsize=1024)
def statement(name: str, *args: Any) -> SqliteSql:
    """The SQLite text of `queries.<name>(*args)`: from the catalogue, else compiled."""
    data = catalog()
    if data is not None:
        found = data["statements"].get(statement_key(name, *args))
        if found is not None:
            return SqliteSql(found["text"], found["fixed"])
    return compile_builder(name, *args)


def compile_builder(name: str, *args: Any) -> SqliteSql:
    """Build `name(*args)` and compile it with SQLAlchemy (imported here, on first use)."""
    import importlib

    from basir.store.queries import compile_sqlite

    module = importlib.import_module(f"basir.store.{builder_module(name)}")
    built = getattr(module, name.rpartition(".")[2])(*args)
    compiled = compile_sqlite(built)
    return SqliteSql(compiled.text, compiled.fixed)


def schema_revision() -> str | None:
    """The schema revision the tables correspond to, when the catalogue is current."""
    data = catalog()
    return None if data is None else str(data["schema_revision"])


def schema_ddl() -> list[str] | None:
    """The statements `metadata.create_all` runs on SQLite, when the catalogue is current."""
    data = catalog()
    return None if data is None else list(data["ddl"])


def key_params(change: RunUpdate | TaskUpdate) -> dict[str, str]:
    """Bind values `k_*` of the key of the run or task a guarded update names."""
    if isinstance(change, RunUpdate):
        return {"k_id": change.run_id}
    return {"k_run_id": change.run_id, "k_task_id": change.task_id}


def status_params(statuses: tuple[str, ...] | None) -> dict[str, str]:
    """Bind values `s0..` for the allowed statuses of a guard."""
    return {} if statuses is None else {f"s{i}": s for i, s in enumerate(statuses)}


# --- SQLite bulk writes -------------------------------------------------------------------
# The SQLite writer writes many rows per statement.  Python's sqlite3 module lets go of the
# GIL around every step of a statement, so `executemany` over 500 rows is 500 hand-overs of
# the GIL, and while the event loop is busy each one can wait out the switch interval (5 ms):
# a commit of 500 rows measured 1.5–5 s against a busy thread, 40–60 ms as multi-row
# statements.  These are positional (`?`) SQL text: SQLAlchemy renders a multi-row VALUES
# with one named parameter per cell, and SQLite's VALUES table (`UPDATE … FROM`) takes no
# column aliases, its columns are `column1`, `column2`, ….

_BULK_TABLES = {
    "run": ("runs", RUN_COLUMNS),
    "task": ("tasks", TASK_INSERT_COLUMNS),
    "event": ("events", EVENT_INSERT_COLUMNS),
}
_BULK_KEYS = {"run": ("runs", ("id",)), "task": ("tasks", ("run_id", "task_id"))}


def _values_rows(width: int, rows: int) -> str:
    row = "(" + ", ".join("?" * width) + ")"
    return ", ".join([row] * rows)


@lru_cache(maxsize=32)
def insert_rows_sqlite(kind: str, rows: int) -> str:
    """`INSERT INTO <runs|tasks|events> (…) VALUES (?, …), …` for `rows` rows.

    Parameters, row after row: `codec.run_values` / `codec.task_values` / `codec.event_values`.
    """
    table, columns = _BULK_TABLES[kind]
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {_values_rows(len(columns), rows)}"


# The other columns of a fresh task (`codec.fresh_task_values`): what `codec.task_values`
# writes for a `TaskRecord`'s defaults.  Columns left out stay NULL, the default of the rest.
_FRESH_LITERALS = {"attempts": "0", "outputs": "'{}'", "held": "0", "preemptions": "0"}


@lru_cache(maxsize=32)
def insert_fresh_tasks_sqlite(rows: int) -> str:
    """`INSERT INTO tasks (…) VALUES (?, …, 0, '{}', 0, 0), …` for `rows` new tasks: five
    parameters a row instead of every column (a tick inserts a thousand such rows)."""
    names = (*FRESH_TASK_COLUMNS, *_FRESH_LITERALS)
    row = "(" + ", ".join(["?"] * len(FRESH_TASK_COLUMNS) + list(_FRESH_LITERALS.values())) + ")"
    return f"INSERT INTO tasks ({', '.join(names)}) VALUES {', '.join([row] * rows)}"


@lru_cache(maxsize=512)
def update_rows_sqlite(kind: str, fields: tuple[str, ...], n_from: int | None, rows: int) -> str:
    """`UPDATE <runs|tasks> SET … FROM (VALUES …) AS v WHERE <key> AND status IN (…)`.

    Parameters of each row: the key (`id`, or `run_id, task_id`), the new values in `fields`
    order, then `n_from` allowed statuses.  The changed-row count tells how many matched.
    """
    table, keys = _BULK_KEYS[kind]

    def cell(index: int) -> str:
        return f"v.column{index + 1}"

    sets = ", ".join(f"{field} = {cell(len(keys) + i)}" for i, field in enumerate(fields))
    where = [f"{table}.{key} = {cell(i)}" for i, key in enumerate(keys)]
    if n_from is not None:
        first = len(keys) + len(fields)
        allowed = ", ".join(cell(first + i) for i in range(n_from))
        where.append(f"{table}.status IN ({allowed})")
    width = len(keys) + len(fields) + (n_from or 0)
    return (
        f"UPDATE {table} SET {sets} FROM (VALUES {_values_rows(width, rows)}) AS v "
        f"WHERE {' AND '.join(where)}"
    )


@lru_cache(maxsize=256)
def update_schedules_sqlite(fields: tuple[str, ...], rows: int) -> str:
    """`UPDATE schedules SET … FROM (VALUES …) AS v WHERE id and revision match`, bumping the
    revision: the guarded writes of a tick (`schedule_sql.guarded_update`) for `rows`
    schedules in one statement.

    Parameters of each row: the schedule's id, the revision it was read at, then the new
    values in `fields` order.  The changed-row count tells how many guards held.
    """
    sets = ", ".join(f"{field} = v.column{index + 3}" for index, field in enumerate(fields))
    return (
        f"UPDATE schedules SET {sets}, revision = schedules.revision + 1 "
        f"FROM (VALUES {_values_rows(len(fields) + 2, rows)}) AS v "
        "WHERE schedules.id = v.column1 AND schedules.revision = v.column2"
    )
