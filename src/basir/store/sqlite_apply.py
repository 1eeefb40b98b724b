"""The write jobs of the SQLite writer thread: a batch, a workflow version, a kv document.

Every job runs inside the writer's open transaction (under its own SAVEPOINT) on the raw DBAPI
connection, with statements compiled once from `store.queries`.  Runs of consecutive changes of
the same shape go through one `executemany`; when such a run touches fewer rows than it was
given, the job raises `Mismatch` and the writer replays it with `precise=True`, row by row, to
name the row that lost its race.
"""

from __future__ import annotations

import sqlite3
import time
from itertools import groupby
from typing import Any

from basir.store import codec, guards, queries
from basir.store.queries import compile_sqlite
from basir.store.records import (
    Batch,
    Change,
    EventRecord,
    JsonDict,
    RunInsert,
    RunUpdate,
    TaskInsert,
    TaskRecord,
    TaskUpdate,
    WorkflowVersion,
)


class Mismatch(Exception):  # noqa: N818 - a signal to the writer, not an error to report
    """An `executemany` touched fewer rows than it was given: replay the job row by row."""


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
    run_sql = compile_sqlite(queries.insert_run()).text
    task_sql = compile_sqlite(queries.insert_task()).text
    run_rows = [codec.run_row(c.run) for c in changes]
    task_rows = [
        {**codec.task_row(t, seq), "run_id": c.run.id}
        for c in changes
        for seq, t in enumerate(c.tasks)
    ]
    if not precise:
        try:
            conn.executemany(run_sql, run_rows)
            conn.executemany(task_sql, task_rows)
        except sqlite3.IntegrityError as exc:
            raise Mismatch from exc
        return
    for row in run_rows:
        try:
            conn.execute(run_sql, row)
        except sqlite3.IntegrityError as exc:
            raise guards.duplicate("run", row["id"]) from exc
    for row in task_rows:
        _insert_task_row(conn, task_sql, row)


def _insert_task_row(conn: sqlite3.Connection, sql: str, row: dict[str, Any]) -> None:
    try:
        conn.execute(sql, row)
    except sqlite3.IntegrityError as exc:
        if getattr(exc, "sqlite_errorname", "") == "SQLITE_CONSTRAINT_FOREIGNKEY":
            raise guards.not_found("run", row["run_id"]) from exc
        raise guards.duplicate("task", row["run_id"], row["task_id"]) from exc


def _insert_tasks(conn: sqlite3.Connection, tasks: list[TaskRecord], precise: bool) -> None:
    seq_sql = compile_sqlite(queries.next_task_seq())
    task_sql = compile_sqlite(queries.insert_task()).text
    next_seq: dict[str, int] = {}
    rows = []
    for task in tasks:
        if task.run_id not in next_seq:
            cur = conn.execute(seq_sql.text, seq_sql.params({"k_run_id": task.run_id}))
            next_seq[task.run_id] = int(cur.fetchone()[0])
        rows.append(codec.task_row(task, next_seq[task.run_id]))
        next_seq[task.run_id] += 1
    if not precise:
        try:
            conn.executemany(task_sql, rows)
        except sqlite3.IntegrityError as exc:
            raise Mismatch from exc
        return
    for row in rows:
        _insert_task_row(conn, task_sql, row)


def _key_params(change: RunUpdate | TaskUpdate) -> dict[str, Any]:
    if isinstance(change, RunUpdate):
        return {"k_id": change.run_id}
    return {"k_run_id": change.run_id, "k_task_id": change.task_id}


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
        params = {f"v_{f}": v for f, v in values.items()}
        params.update(_key_params(change))
        params.update(queries.status_params(change.from_statuses))
        rows.append(params)
    sql = compile_sqlite(queries.guarded_update(kind, fields, n_from)).text
    if not precise:
        if conn.executemany(sql, rows).rowcount != len(rows):
            raise Mismatch
        return
    for change, params in zip(changes, rows, strict=True):
        if conn.execute(sql, params).rowcount != 1:
            raise _lost(conn, kind, change)


def _check_guard(
    conn: sqlite3.Connection, kind: str, n_from: int | None, change: RunUpdate | TaskUpdate
) -> None:
    sql = compile_sqlite(queries.guard_check(kind, n_from))
    params = {**_key_params(change), **queries.status_params(change.from_statuses)}
    if conn.execute(sql.text, sql.params(params)).fetchone() is None:
        raise _lost(conn, kind, change)


def _lost(conn: sqlite3.Connection, kind: str, change: RunUpdate | TaskUpdate) -> Exception:
    """Why a guarded write touched no row: the row is missing, or in another status."""
    sql = compile_sqlite(queries.current_status(kind)).text
    row = conn.execute(sql, _key_params(change)).fetchone()
    task_id = change.task_id if isinstance(change, TaskUpdate) else None
    if row is None:
        return guards.not_found(kind, change.run_id, task_id)
    return guards.conflict(kind, change.run_id, task_id, row[0], change.from_statuses)


def _insert_events(conn: sqlite3.Connection, events: list[EventRecord]) -> list[EventRecord]:
    if not events:
        return []
    conn.executemany(compile_sqlite(queries.insert_event()).text, map(codec.event_row, events))
    # AUTOINCREMENT ids of rows inserted one after another inside our write transaction are
    # consecutive, so the last one names them all.
    last = int(conn.execute("SELECT last_insert_rowid()").fetchone()[0])
    first = last - len(events) + 1
    return [_with_id(e, first + i) for i, e in enumerate(events)]


def _with_id(event: EventRecord, event_id: int) -> EventRecord:
    return EventRecord(
        type=event.type,
        subject=event.subject,
        time=event.time,
        data=event.data,
        run_id=event.run_id,
        workflow=event.workflow,
        task_id=event.task_id,
        id=event_id,
    )


def put_workflow(
    conn: sqlite3.Connection,
    name: str,
    namespace: str,
    spec: JsonDict,
    spec_hash: str,
    created_by: str | None,
) -> tuple[WorkflowVersion, bool]:
    """Insert the next version of `name` unless its latest version has the same hash."""
    latest = compile_sqlite(queries.latest_workflow())
    row = conn.execute(latest.text, latest.params({"name": name})).fetchone()
    if row is not None and row[4] == spec_hash:
        return codec.decode_workflow(row), False
    version = 1 if row is None else int(row[1]) + 1
    wv = WorkflowVersion(name, version, namespace, spec, spec_hash, time.time(), created_by)
    values = {n: getattr(wv, n) for n in codec.WORKFLOW_COLUMNS}
    values["spec"] = codec.dumps(spec)
    conn.execute(compile_sqlite(queries.insert_workflow()).text, values)
    return codec.decode_workflow([values[n] for n in codec.WORKFLOW_COLUMNS]), True


def kv_put(
    conn: sqlite3.Connection, kind: str, key: str, value: JsonDict, only_if_absent: bool
) -> bool:
    """Insert or replace one kv document; False when `only_if_absent` found one."""
    sql = compile_sqlite(queries.kv_put("sqlite", only_if_absent))
    params = {"kind": kind, "key": key, "value": codec.dumps(value), "updated_at": time.time()}
    return conn.execute(sql.text, sql.params(params)).rowcount == 1
