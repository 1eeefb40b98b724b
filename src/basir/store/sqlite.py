"""`SqliteStore`: the embedded store (`sqlite:///path`), group-committed off the event loop.

Writes go to one writer thread (`sqlite_writer.GroupCommitWriter`) that commits everything
queued in one transaction; reads run on a small pool of reader threads, each with its own
connection (WAL lets them read while the writer writes).  Nothing here blocks the event loop.
Statements are the Core builders of `store.queries`, compiled once to SQLite SQL; their texts
and the schema's DDL ship in a catalogue (`store.sqlite_sql`), so opening a store at the
current schema revision, or creating a new one, does not import SQLAlchemy.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import threading
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from basir.store import audit_sql, monitoring_codec, schedule_codec, sqlite_apply
from basir.store.audit_records import AuditEntry
from basir.store.base import KvChanges, KvCheck, StoreError
from basir.store.records import (
    AlertRecord,
    Batch,
    EventRecord,
    JsonDict,
    MetricPoint,
    ScheduleRecord,
    ScheduleUpdate,
    WorkflowVersion,
)
from basir.store.sql_reads import Query, SqlReads
from basir.store.sqlite_checkpoint import WalCheckpointer
from basir.store.sqlite_schema import create_schema
from basir.store.sqlite_sql import SqliteSql, statement
from basir.store.sqlite_writer import GroupCommitWriter, Job

T = TypeVar("T")

# --- SQLite pragmas: the one place they are set ------------------------------------------
# WAL: readers never block the writer nor the writer them; a commit appends to the WAL.
# synchronous=NORMAL: in WAL mode the WAL is fsynced at checkpoints, not at every commit; a
#   committed transaction survives the death of the process (kill -9), only an OS crash or a
#   power cut may lose the last commits.  With group commit this is one write() per group.
# foreign_keys: SQLite leaves them off by default; tasks must belong to a run.
# busy_timeout: wait (ms) for another process's lock instead of failing at once.
# temp_store / cache_size: sorts and temp tables in memory; 32 MiB of page cache (KiB < 0).
# wal_autocheckpoint=0: no checkpoint inside a commit; `WalCheckpointer` runs them on its own
#   thread.  journal_size_limit: a WAL file left larger than 64 MiB is trimmed when it restarts.
WRITER_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA cache_size=-32768",
    "PRAGMA wal_autocheckpoint=0",
    "PRAGMA journal_size_limit=67108864",
)
# The checkpointer's connection: it waits for a busy lock instead of failing at once.
CHECKPOINT_PRAGMAS = ("PRAGMA busy_timeout=5000",)
# Readers: the same, and refuse writes by mistake (every write goes through the writer).
READER_PRAGMAS = (
    "PRAGMA busy_timeout=5000",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA cache_size=-32768",
    "PRAGMA query_only=ON",
)
# Bulk readers (exports of a whole history): a page cache of 2 MB, not 32. Such a read
# passes every page once, so a big cache only holds what is not read again, and it grew the
# process by the size of the file read, up to the cache (bench/export_bench.py).
BULK_READER_PRAGMAS = (*READER_PRAGMAS[:2], "PRAGMA cache_size=-2048", "PRAGMA query_only=ON")
# ------------------------------------------------------------------------------------------

# Prepared statements each connection keeps (sqlite3's default is 128).
STATEMENT_CACHE = 512

# Reader threads: two beat four here, since decoding rows holds the GIL (bench/store_bench.py).
DEFAULT_READERS = 2


def sqlite_path(url: str) -> Path:
    """The database file a `sqlite:///path` URL names (`sqlite:////abs` is absolute)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        raise ValueError(f"not a SQLite URL (sqlite:///path): {url!r}")
    path = url[len(prefix) :].split("?", 1)[0]
    if not path or path == ":memory:":
        raise ValueError(f"{url!r}: SQLite needs a file path; use memory:// for an in-memory store")
    return Path(path)


def _connect(path: Path, pragmas: Sequence[str]) -> sqlite3.Connection:
    # isolation_level=None: no implicit BEGIN; the writer issues BEGIN IMMEDIATE itself.
    # cached_statements: room for every multi-row statement size of every write shape.
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, cached_statements=STATEMENT_CACHE
    )
    for pragma in pragmas:
        conn.execute(pragma)
    return conn


def _sql_of(query: Query) -> SqliteSql:
    """The SQLite text of a named statement, or of a built one (compiled on use)."""
    if isinstance(query, tuple):
        return statement(*query)
    from basir.store.queries import compile_sqlite  # code written before statements were named

    return compile_sqlite(query)


def _wrap(exc: sqlite3.Error) -> StoreError:
    return StoreError(f"sqlite: {exc}")


def _data_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA data_version").fetchone()[0])


class SqliteStore(audit_sql.AuditReads, SqlReads):
    """The embedded store on one SQLite file: one writer thread, a pool of reader threads."""

    def __init__(self, url: str, *, readers: int = DEFAULT_READERS) -> None:
        self.url = url
        self.path = sqlite_path(url)
        self._n_readers = max(1, readers)
        self.kv_changes = KvChanges()  # for in-memory caches of documents
        self._writer: GroupCommitWriter | None = None
        self._checkpointer: WalCheckpointer | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._reader_conns: list[sqlite3.Connection] = []
        self._local = threading.local()
        self._lock = threading.Lock()
        self._schedule_writes = 0  # `schedules_token`: every schedule write but a tick's
        self._engine_lock: int | None = None  # the descriptor holding `take_engine_lock`

    # --- lifecycle -----------------------------------------------------------------------

    async def open(self) -> None:
        """Create the file (and its folder) if needed, bring the schema to head, start threads."""
        if self._writer is not None:
            return
        conn = await asyncio.to_thread(self._open_sync)
        self._checkpointer = WalCheckpointer(lambda: _connect(self.path, CHECKPOINT_PRAGMAS))
        self._checkpointer.start()
        self._writer = GroupCommitWriter(conn, after_commit=self._checkpointer.committed)
        self._writer.start()
        self._readers = ThreadPoolExecutor(self._n_readers, thread_name_prefix="basir-sqlite-read")

    def _open_sync(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = _connect(self.path, WRITER_PRAGMAS)  # sets WAL before any table exists
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the SQLite store {self.path}: {exc}") from exc
        try:
            create_schema(conn, self.path)
        except BaseException:
            conn.close()
            raise
        return conn

    async def close(self) -> None:
        """Commit every queued write, stop the writer, close every connection."""
        writer, self._writer = self._writer, None
        readers, self._readers = self._readers, None
        checkpointer, self._checkpointer = self._checkpointer, None
        if writer is not None:
            await writer.stop()
        if checkpointer is not None:
            await asyncio.to_thread(checkpointer.stop)
        if readers is not None:
            await asyncio.to_thread(readers.shutdown, True)
        with self._lock:
            conns, self._reader_conns = self._reader_conns, []
        for conn in conns:
            conn.close()
        self._local = threading.local()
        lock, self._engine_lock = self._engine_lock, None
        if lock is not None:
            os.close(lock)  # releases the engine lock

    async def take_engine_lock(self) -> bool:
        """`flock` on `<store file>.engine-lock`, through a descriptor of its own: the kernel
        drops it when this process ends however it ends (close-on-exec: no task inherits it)."""
        if self._engine_lock is not None:
            return True
        path = self.path.with_name(self.path.name + ".engine-lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held by another process
            os.close(fd)
            return False
        self._engine_lock = fd
        return True

    async def ping(self) -> bool:
        """True when a reader answers `SELECT 1`."""
        try:
            return await self._read(lambda: self._conn().execute("SELECT 1").fetchone() == (1,))
        except StoreError:
            return False

    # --- plumbing ------------------------------------------------------------------------

    async def _submit(self, job: Job) -> Any:
        if self._writer is None:
            raise StoreError(f"store {self.url} is not open")
        return await self._writer.submit(job)

    def _conn(self, bulk: bool = False) -> sqlite3.Connection:
        """This reader thread's connection (its bulk one, with a small cache), opened on
        first use."""
        slot = "bulk_conn" if bulk else "conn"
        conn: sqlite3.Connection | None = getattr(self._local, slot, None)
        if conn is None:
            conn = _connect(self.path, BULK_READER_PRAGMAS if bulk else READER_PRAGMAS)
            setattr(self._local, slot, conn)
            with self._lock:
                self._reader_conns.append(conn)
        return conn

    async def _read(self, fn: Callable[[], T]) -> T:
        if self._readers is None:
            raise StoreError(f"store {self.url} is not open")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._readers, fn)
        except sqlite3.Error as exc:
            raise _wrap(exc) from exc

    async def _select(
        self, query: Query, params: dict[str, Any], decode: Callable[[Sequence[Any]], T]
    ) -> list[T]:
        sql = _sql_of(query)
        args = sql.params(params)
        return await self._read(lambda: [decode(r) for r in self._conn().execute(sql.text, args)])

    async def _rows(self, query: Query, params: dict[str, Any], *, bulk: bool = False) -> list[Any]:
        """The rows as tuples in one `fetchall`; `bulk` on the thread's small-cache connection."""
        sql = _sql_of(query)
        args = sql.params(params)
        rows: list[Any] = await self._read(
            lambda: self._conn(bulk).execute(sql.text, args).fetchall()
        )
        return rows

    # --- workflows -----------------------------------------------------------------------

    async def put_workflow(
        self, name: str, namespace: str, spec: JsonDict, spec_hash: str, created_by: str | None
    ) -> tuple[WorkflowVersion, bool]:
        """Store `spec` as the next version of `name` unless the latest has the same hash."""
        result: tuple[WorkflowVersion, bool] = await self._submit(
            lambda conn, _precise: sqlite_apply.put_workflow(
                conn, name, namespace, spec, spec_hash, created_by
            )
        )
        return result

    # --- runs and tasks ------------------------------------------------------------------

    async def write(self, batch: Batch) -> list[EventRecord]:
        """Apply every change and insert every event in one transaction (group-committed).

        Returns once the group holding the batch is committed.  Do not change `batch` before
        this returns: the writer thread reads it.
        """
        if not batch:
            return []
        if self._writer is None:
            raise StoreError(f"store {self.url} is not open")
        events: list[EventRecord] = await self._writer.submit_batch(batch)
        return events

    # --- key-value -----------------------------------------------------------------------

    async def kv_put(
        self, kind: str, key: str, value: JsonDict, *, only_if_absent: bool = False
    ) -> bool:
        """Store a document; with `only_if_absent`, keep an existing one and return False."""
        try:
            stored: bool = await self._submit(
                lambda conn, _precise: sqlite_apply.kv_put(conn, kind, key, value, only_if_absent)
            )
            return stored
        finally:
            self.kv_changes.bump(kind)

    async def kv_put_checked(
        self,
        kind: str,
        key: str,
        value: JsonDict,
        check: KvCheck,
        *,
        limit: int = 1000,
    ) -> None:
        """Store a document if `check` accepts those of `kind`: read, check and write in one
        transaction of the single writer (which other processes' writers wait for)."""
        await self._submit(
            lambda conn, _precise: sqlite_apply.kv_put_checked(conn, kind, key, value, check, limit)
        )
        self.kv_changes.bump(kind)

    # --- metric history ------------------------------------------------------------------

    async def metrics_write(self, points: list[MetricPoint]) -> None:
        """Upsert points in one transaction on the writer thread (grouped with other writes)."""
        if not points:
            return
        sql = statement("metric_queries.upsert_point", "sqlite")
        rows = [sql.params(monitoring_codec.point_params(p)) for p in points]
        await self._submit(lambda conn, _precise: conn.executemany(sql.text, rows))

    async def metrics_prune(self, before: dict[int, float]) -> int:
        """Delete points older than `before[resolution_s]`, on the writer thread."""
        sql = statement("metric_queries.delete_older")

        def prune(conn: sqlite3.Connection, _precise: bool) -> int:
            removed = 0
            for resolution_s, cutoff in before.items():
                params = {"resolution_s": resolution_s, "before": cutoff}
                removed += conn.execute(sql.text, sql.params(params)).rowcount
            return removed

        removed: int = await self._submit(prune)
        return removed

    # --- alerts --------------------------------------------------------------------------

    async def alert_put(self, alert: AlertRecord) -> None:
        """Insert or replace one alert, on the writer thread."""
        sql = statement("alert_queries.upsert_alert", "sqlite")
        params = sql.params(monitoring_codec.alert_params(alert))
        await self._submit(lambda conn, _precise: conn.execute(sql.text, params))

    # --- audit log -----------------------------------------------------------------------

    async def audit_append(self, entries: list[AuditEntry]) -> list[AuditEntry]:
        """Chain and insert `entries` on the writer thread (one transaction, one chain)."""
        if not entries:
            return []
        sealed: list[AuditEntry] = await self._submit(
            lambda conn, _precise: audit_sql.append_sqlite(conn, entries)
        )
        return sealed

    async def kv_delete(self, kind: str, key: str) -> bool:
        """Remove a document; False when there was none."""
        try:
            deleted: bool = await self._submit(
                lambda conn, _precise: sqlite_apply.kv_delete(conn, kind, key)
            )
            return deleted
        finally:
            self.kv_changes.bump(kind)

    # --- schedules -----------------------------------------------------------------------

    async def sync_schedules(self, workflow: str, entries: list[ScheduleRecord]) -> None:
        """Make `entries` the workflow's schedules (see `ScheduleStore.sync_schedules`)."""
        try:
            await self._submit(
                lambda conn, _precise: sqlite_apply.sync_schedules(conn, workflow, entries)
            )
        finally:  # after the commit (or a failure): a token read since sees it moved
            self._schedule_writes += 1

    async def add_schedule(self, record: ScheduleRecord) -> None:
        """Insert one schedule; `ConflictError` when the id exists."""
        try:
            await self._submit(lambda conn, _precise: sqlite_apply.add_schedule(conn, record))
        finally:
            self._schedule_writes += 1

    async def list_schedules(self, workflow: str | None = None) -> list[ScheduleRecord]:
        """Every schedule (of one workflow), by workflow and position."""
        query = ("schedule_sql.select_all", workflow is not None)
        params = {} if workflow is None else {"workflow": workflow}
        return await self._select(query, params, schedule_codec.decode)

    async def get_schedule(self, schedule_id: str) -> ScheduleRecord | None:
        """One schedule, or None."""
        found = await self._select(
            ("schedule_sql.select_one",), {"id": schedule_id}, schedule_codec.decode
        )
        return found[0] if found else None

    async def schedules_token(self) -> Hashable | None:
        """This process's schedule writes (but `update_schedules`), and the writer
        connection's `PRAGMA data_version`, which moves when another connection (another
        process: this one writes through this connection only) commits anything."""
        foreign: int = await self._submit(lambda conn, _precise: _data_version(conn))
        return (self._schedule_writes, foreign)

    async def next_due_at(self) -> float | None:
        """The soonest `due_at` of an unpaused schedule."""
        found = await self._select(("schedule_sql.next_due",), {}, lambda row: row[0])
        return None if not found or found[0] is None else float(found[0])

    async def update_schedule(
        self, change: ScheduleUpdate, batch: Batch | None = None
    ) -> list[EventRecord]:
        """Write a schedule and `batch` together, while it is still at `change.revision`."""
        try:
            events: list[EventRecord] = await self._submit(
                lambda conn, precise: sqlite_apply.update_schedule(conn, change, batch, precise)
            )
        finally:
            self._schedule_writes += 1
        return events

    async def update_schedules(
        self, items: list[tuple[ScheduleUpdate, Batch | None]]
    ) -> list[BaseException | None]:
        """Many guarded schedule writes and their batches in one writer job (one commit)."""
        if not items:
            return []
        lost: list[BaseException | None] = await self._submit(
            lambda conn, _precise: sqlite_apply.update_schedules(conn, items)
        )
        return lost
