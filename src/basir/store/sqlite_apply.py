"""The write jobs of the SQLite writer thread: a batch, a workflow version, a kv document.

Every job runs inside the writer's open transaction on the raw DBAPI connection, with
statements from `store.queries` (as SQLite texts, `store.sqlite_sql`).  Runs of consecutive
changes of the same shape are written by
a few multi-row statements (up to `MAX_ROWS_PER_STATEMENT` rows each: one GIL hand-over per
statement, not per row); when such a run touches fewer rows than it was given, the job raises
`Mismatch` and the writer replays it with `precise=True`, row by row, to name the row that
lost its race.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from collections.abc import Iterator
from itertools import chain, groupby
from typing import Any

from basir.store import codec, guards, schedule_codec
from basir.store.base import ConflictError, KvCheck, NotFoundError
from basir.store.records import (
    Batch,
    Change,
    EventRecord,
    JsonDict,
    RunInsert,
    RunUpdate,
    ScheduleRecord,
    ScheduleUpdate,
    TaskInsert,
    TaskRecord,
    TaskUpdate,
    WorkflowVersion,
)
from basir.store.sqlite_sql import (
    insert_fresh_tasks_sqlite,
    insert_rows_sqlite,
    key_params,
    statement,
    status_params,
    update_rows_sqlite,
    update_schedules_sqlite,
)

# Rows one multi-row statement writes at most (see `insert_rows_sqlite`).
MAX_ROWS_PER_STATEMENT = 256

_RUN_ID = codec.RUN_COLUMNS.index("id")
_TASK_RUN_ID = codec.TASK_INSERT_COLUMNS.index("run_id")
_TASK_ID = codec.TASK_INSERT_COLUMNS.index("task_id")


class Mismatch(Exception):  # noqa: N818 - a signal to the writer, not an error to report
    """A multi-row write touched fewer rows than it was given: replay the job row by row."""


# What consecutive changes must share to go through one executemany.
_Shape = tuple[str, tuple[str, ...], int | None]


def _shape(change: Change) -> _Shape:
    if isinstance(change, RunInsert):
        return ("run_insert", (), None)
    if isinstance(change, TaskInsert):
        return ("task_insert", (), None)
    kind = "run" if isinstance(change, RunUpdate) else "task"
    n_from = None if change.from_statuses is None else len(change.from_statuses)
    return (kind, tuple(sorted(change.fields)), n_from)


def apply_batch(conn: sqlite3.Connection, batch: Batch, precise: bool) -> list[EventRecord]:
    """Apply a batch's changes in order, then insert its events and return them with ids."""
    _apply_changes(conn, batch.changes, precise)
    return _insert_events(conn, batch.events)


def apply_batches(conn: sqlite3.Connection, batches: list[Batch]) -> list[list[EventRecord]]:
    """Apply several batches as if one after the other, with one executemany per shape.

    The changes of all batches, in order, then their events, in order: the same rows and the
    same event ids as applying each batch in turn.  Any error (a `Mismatch` included) leaves
    the caller to roll back and apply the batches one by one.
    """
    _apply_changes(conn, [c for b in batches for c in b.changes], False)
    written = _insert_events(conn, [e for b in batches for e in b.events])
    per_batch, start = [], 0
    for batch in batches:
        per_batch.append(written[start : start + len(batch.events)])
        start += len(batch.events)
    return per_batch


def _apply_changes(conn: sqlite3.Connection, changes: list[Change], precise: bool) -> None:
    for (kind, fields, n_from), group in groupby(changes, key=_shape):
        same = list(group)
        if kind == "run_insert":
            _insert_runs(conn, [c for c in same if isinstance(c, RunInsert)], precise)
        elif kind == "task_insert":
            tasks = [c.task for c in same if isinstance(c, TaskInsert)]
            _insert_tasks(conn, tasks, precise)
        else:
            updates = [c for c in same if isinstance(c, RunUpdate | TaskUpdate)]
            _update(conn, kind, fields, n_from, updates, precise)


def _insert_runs(conn: sqlite3.Connection, changes: list[RunInsert], precise: bool) -> None:
    run_rows = [codec.run_values(c.run) for c in changes]
    tasks = [
        (t if t.run_id == c.run.id else dataclasses.replace(t, run_id=c.run.id), seq)
        for c in changes
        for seq, t in enumerate(c.tasks)
    ]
    if not precise:
        # Multi-row statements: a tick's thousand fired runs are a few of them; new pending
        # tasks (most of them) in the narrow form.
        fresh, task_rows = [], []
        for task, seq in tasks:
            row = codec.fresh_task_values(task, seq)
            if row is not None:
                fresh.append(row)
            else:
                task_rows.append(codec.task_values(task, seq))
        try:
            _insert_rows(conn, "run", run_rows)
            _insert_rows(conn, "fresh_task", fresh)
            _insert_rows(conn, "task", task_rows)
        except sqlite3.IntegrityError as exc:
            raise Mismatch from exc
        return
    task_rows = [codec.task_values(task, seq) for task, seq in tasks]
    run_sql = insert_rows_sqlite("run", 1)
    for row in run_rows:
        try:
            conn.execute(run_sql, row)
        except sqlite3.IntegrityError as exc:
            raise guards.duplicate("run", row[_RUN_ID]) from exc
    _insert_tasks_one_by_one(conn, task_rows)


def _insert_tasks(conn: sqlite3.Connection, tasks: list[TaskRecord], precise: bool) -> None:
    seq_sql = statement("next_task_seq")
    next_seq: dict[str, int] = {}
    rows = []
    for task in tasks:
        if task.run_id not in next_seq:
            cur = conn.execute(seq_sql.text, seq_sql.params({"k_run_id": task.run_id}))
            next_seq[task.run_id] = int(cur.fetchone()[0])
        rows.append(codec.task_values(task, next_seq[task.run_id]))
        next_seq[task.run_id] += 1
    if not precise:
        try:
            _insert_rows(conn, "task", rows)
        except sqlite3.IntegrityError as exc:
            raise Mismatch from exc
        return
    _insert_tasks_one_by_one(conn, rows)


def _insert_tasks_one_by_one(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Insert task rows singly, to name the one that breaks a constraint."""
    sql = insert_rows_sqlite("task", 1)
    for row in rows:
        try:
            conn.execute(sql, row)
        except sqlite3.IntegrityError as exc:
            run_id, task_id = row[_TASK_RUN_ID], row[_TASK_ID]
            if getattr(exc, "sqlite_errorname", "") == "SQLITE_CONSTRAINT_FOREIGNKEY":
                raise guards.not_found("run", run_id) from exc
            raise guards.duplicate("task", run_id, task_id) from exc


def _chunks(count: int) -> Iterator[tuple[int, int]]:
    """`(start, size)` slices of `count` rows for multi-row statements.

    Sizes are powers of two up to `MAX_ROWS_PER_STATEMENT`, so a few statement texts serve
    every batch: sqlite3 keeps the prepared ones in its statement cache, keyed by text.
    """
    start, size = 0, MAX_ROWS_PER_STATEMENT
    while start < count:
        while size > count - start:
            size //= 2
        yield start, size
        start += size


def _insert_rows(conn: sqlite3.Connection, kind: str, rows: list[tuple[Any, ...]]) -> int:
    """Insert rows in a few multi-row statements; the rowid of the last row inserted.

    `kind`: `run`, `task`, `event` (every column) or `fresh_task` (`codec.fresh_task_values`).
    """
    last = 0
    for start, size in _chunks(len(rows)):
        flat = list(chain.from_iterable(rows[start : start + size]))
        sql = (
            insert_fresh_tasks_sqlite(size)
            if kind == "fresh_task"
            else insert_rows_sqlite(kind, size)
        )
        last = conn.execute(sql, flat).lastrowid or 0
    return last


def _update(
    conn: sqlite3.Connection,
    kind: str,
    fields: tuple[str, ...],
    n_from: int | None,
    changes: list[RunUpdate | TaskUpdate],
    precise: bool,
) -> None:
    if not fields:
        for change in changes:
            _check_guard(conn, kind, n_from, change)
        return
    rows = []
    for change in changes:
        values = codec.update_values(kind, change.fields)  # checks the names first
        rows.append(
            (*_key_values(change), *(values[f] for f in fields), *(change.from_statuses or ()))
        )
    if not precise:
        updated = 0
        for start, size in _chunks(len(rows)):
            sql = update_rows_sqlite(kind, fields, n_from, size)
            flat = list(chain.from_iterable(rows[start : start + size]))
            updated += conn.execute(sql, flat).rowcount
        if updated != len(rows):
            raise Mismatch
        return
    sql = update_rows_sqlite(kind, fields, n_from, 1)
    for change, row in zip(changes, rows, strict=True):
        if conn.execute(sql, row).rowcount != 1:
            raise _lost(conn, kind, change)


def _key_values(change: RunUpdate | TaskUpdate) -> tuple[str, ...]:
    if isinstance(change, RunUpdate):
        return (change.run_id,)
    return (change.run_id, change.task_id)


def _check_guard(
    conn: sqlite3.Connection, kind: str, n_from: int | None, change: RunUpdate | TaskUpdate
) -> None:
    sql = statement("guard_check", kind, n_from)
    params = {**key_params(change), **status_params(change.from_statuses)}
    if conn.execute(sql.text, sql.params(params)).fetchone() is None:
        raise _lost(conn, kind, change)


def _lost(conn: sqlite3.Connection, kind: str, change: RunUpdate | TaskUpdate) -> Exception:
    """Why a guarded write touched no row: the row is missing, or in another status."""
    sql = statement("current_status", kind).text
    row = conn.execute(sql, key_params(change)).fetchone()
    return guards.lost_race(change, None if row is None else row[0])


def _insert_events(conn: sqlite3.Connection, events: list[EventRecord]) -> list[EventRecord]:
    """Insert events and give each its id (in place): they are the ones the caller publishes."""
    if not events:
        return []
    last = _insert_rows(conn, "event", [codec.event_values(e) for e in events])
    # AUTOINCREMENT ids of rows inserted one after another inside our write transaction are
    # consecutive, so the last one names them all.
    first = last - len(events) + 1
    for offset, event in enumerate(events):
        event.id = first + offset
    return events


def put_workflow(
    conn: sqlite3.Connection,
    name: str,
    namespace: str,
    spec: JsonDict,
    spec_hash: str,
    created_by: str | None,
) -> tuple[WorkflowVersion, bool]:
    """Insert the next version of `name` unless its latest version has the same hash."""
    latest = statement("latest_workflow")
    row = conn.execute(latest.text, latest.params({"name": name})).fetchone()
    if row is not None and row[4] == spec_hash:
        return codec.decode_workflow(row), False
    version = 1 if row is None else int(row[1]) + 1
    wv = WorkflowVersion(name, version, namespace, spec, spec_hash, time.time(), created_by)
    values = {n: getattr(wv, n) for n in codec.WORKFLOW_COLUMNS}
    values["spec"] = codec.dumps(spec)
    conn.execute(statement("insert_workflow").text, values)
    return codec.decode_workflow([values[n] for n in codec.WORKFLOW_COLUMNS]), True


def kv_put(
    conn: sqlite3.Connection, kind: str, key: str, value: JsonDict, only_if_absent: bool
) -> bool:
    """Insert or replace one kv document; False when `only_if_absent` found one."""
    sql = statement("kv_put", "sqlite", only_if_absent)
    params = {"kind": kind, "key": key, "value": codec.dumps(value), "updated_at": time.time()}
    return conn.execute(sql.text, sql.params(params)).rowcount == 1


def kv_put_checked(
    conn: sqlite3.Connection,
    kind: str,
    key: str,
    value: JsonDict,
    check: KvCheck,
    limit: int,
) -> None:
    """Read the documents of `kind`, let `check` refuse (it raises), then write one; all in
    the writer's transaction (`BEGIN IMMEDIATE`: one writer per database file)."""
    sql = statement("kv_list")
    rows = conn.execute(sql.text, sql.params({"kind": kind, "limit": limit})).fetchall()
    check([(str(row[0]), codec.loads(row[1])) for row in rows])
    kv_put(conn, kind, key, value, False)


def kv_delete(conn: sqlite3.Connection, kind: str, key: str) -> bool:
    """Delete one kv document; False when there was none."""
    sql = statement("kv_delete")
    return conn.execute(sql.text, sql.params({"kind": kind, "key": key})).rowcount == 1


def sync_schedules(conn: sqlite3.Connection, workflow: str, entries: list[ScheduleRecord]) -> None:
    """Register a workflow's schedules: upsert each entry, delete the ones no longer listed."""
    ids = statement("schedule_sql.ids_of_workflow")
    wanted = {entry.id for entry in entries}
    delete = statement("schedule_sql.delete_one").text
    for (found,) in conn.execute(ids.text, ids.params({"workflow": workflow})).fetchall():
        if found not in wanted:
            conn.execute(delete, {"id": found})
    upsert = statement("schedule_sql.upsert", "sqlite")
    conn.executemany(upsert.text, [upsert.params(schedule_codec.row(e)) for e in entries])


def update_schedule(
    conn: sqlite3.Connection, change: ScheduleUpdate, batch: Batch | None, precise: bool
) -> list[EventRecord]:
    """A guarded schedule write, then `batch`, in the writer's transaction."""
    fields, params = schedule_codec.update_params(change)
    sql = statement("schedule_sql.guarded_update", fields)
    if conn.execute(sql.text, sql.params(params)).rowcount != 1:
        current = statement("schedule_sql.current_revision")
        found = conn.execute(current.text, current.params({"k_id": change.id})).fetchone()
        raise schedule_codec.lost(change, None if found is None else int(found[0]))
    return apply_batch(conn, batch, precise) if batch else []


def update_schedules(
    conn: sqlite3.Connection, items: list[tuple[ScheduleUpdate, Batch | None]]
) -> list[BaseException | None]:
    """Guarded schedule writes, then the batches of those that won, merged by statement shape
    (`apply_batches`): a tick's thousand fires cost a few statements.  The guarded writes of
    one shape go in one executemany; if any of them lost (fewer rows than items), that shape
    is replayed item by item to tell which.  A lost guard skips its item (its error returned
    in its place); should the merged batches fail, they are replayed item by item under
    savepoints, so a refused item is undone alone."""
    conn.execute("SAVEPOINT schedules")
    outcome: list[BaseException | None] = [None] * len(items)
    shapes: dict[tuple[str, ...], list[tuple[int, tuple[Any, ...]]]] = {}
    for index, (change, _batch) in enumerate(items):
        fields, row = schedule_codec.update_row(change)
        shapes.setdefault(fields, []).append((index, row))
    for fields, group in shapes.items():
        conn.execute("SAVEPOINT shape")
        if _update_schedule_rows(conn, fields, [row for _index, row in group]) != len(group):
            conn.execute("ROLLBACK TO shape")
            for index, _row in group:
                try:
                    update_schedule(conn, items[index][0], None, False)
                except (ConflictError, NotFoundError) as error:
                    outcome[index] = error
        conn.execute("RELEASE shape")
    won = [index for index in range(len(items)) if outcome[index] is None]
    try:
        apply_batches(conn, [batch for i in won if (batch := items[i][1])])
    except Exception:  # replay one by one: only the item at fault fails
        conn.execute("ROLLBACK TO schedules")
        for index in won:
            change, batch = items[index]
            conn.execute("SAVEPOINT item")
            try:
                update_schedule(conn, change, batch, True)
            except Exception as error:
                conn.execute("ROLLBACK TO item")
                outcome[index] = error
            conn.execute("RELEASE item")
    conn.execute("RELEASE schedules")
    return outcome


def _update_schedule_rows(
    conn: sqlite3.Connection, fields: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> int:
    """Guarded writes of one shape in a few multi-row statements; how many guards held."""
    updated = 0
    for start, size in _chunks(len(rows)):
        flat = list(chain.from_iterable(rows[start : start + size]))
        updated += conn.execute(update_schedules_sqlite(fields, size), flat).rowcount
    return updated


def add_schedule(conn: sqlite3.Connection, record: ScheduleRecord) -> None:
    """Insert one schedule; `ConflictError` when its id exists."""
    sql = statement("schedule_sql.insert")
    try:
        conn.execute(sql.text, sql.params(schedule_codec.row(record)))
    except sqlite3.IntegrityError as error:
        raise ConflictError(f"schedule {record.id} already exists") from error
