"""`PostgresStore`: the distributed store (`postgresql://…`), SQLAlchemy async + asyncpg.

One transaction per batch; guarded `UPDATE … WHERE status IN …` checked by rowcount, exactly
as on SQLite (the statements are the same builders of `store.queries`).  PostgreSQL specifics
live here: advisory locks that (a) serialise schema creation across servers, (b) serialise
concurrent `put_workflow` of one name, and (c) make event ids visible in id order — a
transaction takes the events lock before it draws ids and keeps it until it commits, so a
reader that has seen id N never later finds a committed id below N (SSE replay relies on it).
Correct rather than fast for now: no group commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Hashable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from basir.store import (
    alert_queries,
    audit_queries,
    codec,
    guards,
    metric_queries,
    monitoring_codec,
    queries,
    report_queries,
    schedule_codec,
    schedule_sql,
)
from basir.store.audit_records import GENESIS, AuditEntry, entry_params, seal
from basir.store.audit_sql import AuditReads
from basir.store.base import ConflictError, KvChanges, KvCheck, StoreError, describe
from basir.store.records import (
    AlertRecord,
    Batch,
    Change,
    EventRecord,
    JsonDict,
    MetricPoint,
    RunInsert,
    RunUpdate,
    ScheduleRecord,
    ScheduleUpdate,
    TaskInsert,
    TaskUpdate,
    WorkflowVersion,
)
from basir.store.schema import ensure_schema
from basir.store.sql_reads import Query, SqlReads
from basir.store.tables import events

T = TypeVar("T")

# Advisory lock keys (64-bit), "basir" in ASCII plus a small number per purpose.
SCHEMA_LOCK_KEY = 0x6261736972_0001
EVENTS_LOCK_KEY = 0x6261736972_0002
ENGINE_LOCK_KEY = 0x6261736972_0003  # session-level: `take_engine_lock`
WORKFLOW_LOCK_PREFIX = "basir.workflow:"
KV_LOCK_PREFIX = "basir.kv:"  # `kv_put_checked`: one lock per kind of document

UNIQUE_VIOLATION = "23505"
FOREIGN_KEY_VIOLATION = "23503"


def async_url(url: str) -> str:
    """The SQLAlchemy URL that drives `url` through asyncpg."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL (postgresql://…): {url!r}")


def _pgcode(exc: DBAPIError) -> str | None:
    return getattr(exc.orig, "pgcode", None)


class PostgresStore(AuditReads, SqlReads):
    """The store on a PostgreSQL database, shared by any number of servers."""

    def __init__(self, url: str, *, pool_size: int = 10, max_overflow: int = 10) -> None:
        self.url = url
        self._sa_url = async_url(url)
        self._pool = {"pool_size": pool_size, "max_overflow": max_overflow}
        self.kv_changes = KvChanges()  # for in-memory caches of documents
        self._engine: AsyncEngine | None = None
        self._engine_lock: AsyncConnection | None = None  # the session holding the engine lock
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()

    # --- lifecycle -----------------------------------------------------------------------

    async def open(self) -> None:
        """Connect and create or migrate the schema (one server at a time)."""
        if self._engine is not None:
            return
        engine = create_async_engine(self._sa_url, pool_pre_ping=True, **self._pool)
        try:
            async with engine.begin() as conn:
                await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(SCHEMA_LOCK_KEY)))
                await conn.run_sync(ensure_schema)
        except (OSError, DBAPIError) as exc:
            await engine.dispose()
            reason = exc.orig if isinstance(exc, DBAPIError) else exc
            raise StoreError(f"cannot open the store {describe(self)}: {reason}") from exc
        except BaseException:
            await engine.dispose()
            raise
        self._engine = engine

    async def close(self) -> None:
        """Let in-flight operations finish, then release every connection."""
        engine, self._engine = self._engine, None
        if engine is None:
            return
        await self._idle.wait()
        lock, self._engine_lock = self._engine_lock, None
        if lock is not None:
            await lock.close()  # back to the pool, whose sessions `dispose` ends: unlocked
        await engine.dispose()

    async def take_engine_lock(self) -> bool:
        """A session-level advisory lock on a connection kept for it: PostgreSQL drops it when
        that session ends, as when this process dies (its socket closes)."""
        if self._engine_lock is not None:
            return True
        async with self._tracked() as engine:
            conn, held = await engine.connect(), False
            try:
                query = sa.select(sa.func.pg_try_advisory_lock(ENGINE_LOCK_KEY))
                held = bool((await conn.execute(query)).scalar())
                await conn.commit()  # not left idle in a transaction; the lock stays
            finally:
                if not held:
                    await conn.close()
        self._engine_lock = conn if held else None
        return held

    async def ping(self) -> bool:
        """True when the database answers `SELECT 1`."""
        try:
            async with self._connect() as conn:
                return (await conn.execute(sa.text("SELECT 1"))).scalar() == 1
        except (StoreError, DBAPIError, OSError):
            return False

    # --- plumbing ------------------------------------------------------------------------

    @asynccontextmanager
    async def _tracked(self) -> AsyncIterator[AsyncEngine]:
        engine = self._engine
        if engine is None:
            raise StoreError(f"store {describe(self)} is not open")
        self._busy += 1
        self._idle.clear()
        try:
            yield engine
        except DBAPIError as exc:
            raise StoreError(f"postgresql: {exc.orig}") from exc
        finally:
            self._busy -= 1
            if self._busy == 0:
                self._idle.set()

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[AsyncConnection]:
        async with self._tracked() as engine, engine.connect() as conn:
            yield conn

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncConnection]:
        async with self._tracked() as engine, engine.begin() as conn:
            yield conn

    async def _select(
        self, query: Query, params: dict[str, Any], decode: Callable[[Sequence[Any]], T]
    ) -> list[T]:
        stmt: Any = query
        if isinstance(query, tuple):
            name, *args = query
            module, _dot, builder = name.rpartition(".")
            source = {
                "": queries,
                "metric_queries": metric_queries,
                "alert_queries": alert_queries,
                "report_queries": report_queries,
                "audit_queries": audit_queries,
                "schedule_sql": schedule_sql,
            }
            stmt = getattr(source[module], builder)(*args)
        async with self._connect() as conn:
            rows = (await conn.execute(stmt, params)).all()
        return [decode(r) for r in rows]

    # --- workflows -----------------------------------------------------------------------

    async def put_workflow(
        self, name: str, namespace: str, spec: JsonDict, spec_hash: str, created_by: str | None
    ) -> tuple[WorkflowVersion, bool]:
        """Store `spec` as the next version of `name` unless the latest has the same hash."""
        async with self._transaction() as conn:
            key = sa.func.hashtextextended(WORKFLOW_LOCK_PREFIX + name, 0)
            await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))
            row = (await conn.execute(queries.latest_workflow(), {"name": name})).first()
            if row is not None and row.spec_hash == spec_hash:
                return codec.decode_workflow(row), False
            version = 1 if row is None else int(row.version) + 1
            values = {
                "name": name,
                "version": version,
                "namespace": namespace,
                "spec": codec.dumps(spec),
                "spec_hash": spec_hash,
                "created_at": time.time(),
                "created_by": created_by,
            }
            await conn.execute(queries.insert_workflow(), values)
        return codec.decode_workflow([values[n] for n in codec.WORKFLOW_COLUMNS]), True

    # --- runs and tasks ------------------------------------------------------------------

    async def write(self, batch: Batch) -> list[EventRecord]:
        """Apply every change and insert every event in one transaction, or nothing."""
        if not batch:
            return []
        async with self._transaction() as conn:
            for change in batch.changes:
                await _apply(conn, change)
            return await _insert_events(conn, batch.events)

    # --- key-value -----------------------------------------------------------------------

    async def kv_put(
        self, kind: str, key: str, value: JsonDict, *, only_if_absent: bool = False
    ) -> bool:
        """Store a document; with `only_if_absent`, keep an existing one and return False."""
        try:
            params = {
                "kind": kind,
                "key": key,
                "value": codec.dumps(value),
                "updated_at": time.time(),
            }
            async with self._transaction() as conn:
                result = await conn.execute(queries.kv_put("postgresql", only_if_absent), params)
            return bool(result.rowcount == 1)
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
        """Store a document if `check` accepts those of `kind`, under the kind's advisory lock.

        The transaction-scoped lock serialises every checked write of `kind` from every process
        on this database; it is released by the commit (or the rollback of a refusal).
        """
        params = {"kind": kind, "key": key, "value": codec.dumps(value), "updated_at": time.time()}
        async with self._transaction() as conn:
            lock = sa.func.hashtextextended(KV_LOCK_PREFIX + kind, 0)
            await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(lock)))
            rows = (await conn.execute(queries.kv_list(), {"kind": kind, "limit": limit})).all()
            # The check may take a while (a year of cron windows): off the event loop.
            await asyncio.to_thread(check, [(row[0], codec.loads(row[1])) for row in rows])
            await conn.execute(queries.kv_put("postgresql", False), params)
        self.kv_changes.bump(kind)

    # --- metric history ------------------------------------------------------------------

    async def metrics_write(self, points: list[MetricPoint]) -> None:
        """Upsert points in one transaction (one executemany)."""
        if not points:
            return
        rows = [monitoring_codec.point_params(p) for p in points]
        async with self._transaction() as conn:
            await conn.execute(metric_queries.upsert_point("postgresql"), rows)

    async def alert_put(self, alert: AlertRecord) -> None:
        """Insert or replace one alert."""
        async with self._transaction() as conn:
            await conn.execute(
                alert_queries.upsert_alert("postgresql"), monitoring_codec.alert_params(alert)
            )

    async def audit_append(self, entries: list[AuditEntry]) -> list[AuditEntry]:
        """Chain and insert `entries` in one transaction holding the table's write lock, so
        concurrent appends (from any process) chain one after the other."""
        if not entries:
            return []
        async with self._transaction() as conn:
            await conn.execute(sa.text("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE"))
            row = (await conn.execute(audit_queries.last_entry())).first()
            sealed = seal(entries, int(row[0]) if row else 0, str(row[1]) if row else GENESIS)
            await conn.execute(audit_queries.insert_entry(), [entry_params(e) for e in sealed])
        return sealed

    async def metrics_prune(self, before: dict[int, float]) -> int:
        """Delete points older than `before[resolution_s]`; return how many went."""
        removed = 0
        async with self._transaction() as conn:
            for resolution_s, cutoff in before.items():
                params = {"resolution_s": resolution_s, "before": cutoff}
                result = await conn.execute(metric_queries.delete_older(), params)
                removed += int(result.rowcount)
        return removed

    async def kv_delete(self, kind: str, key: str) -> bool:
        """Remove a document; False when there was none."""
        try:
            async with self._transaction() as conn:
                result = await conn.execute(queries.kv_delete(), {"kind": kind, "key": key})
            return bool(result.rowcount == 1)
        finally:
            self.kv_changes.bump(kind)

    # --- schedules -----------------------------------------------------------------------

    async def sync_schedules(self, workflow: str, entries: list[ScheduleRecord]) -> None:
        """Make `entries` the workflow's schedules (see `ScheduleStore.sync_schedules`)."""
        wanted = {entry.id for entry in entries}
        async with self._transaction() as conn:
            found = await conn.execute(schedule_sql.ids_of_workflow(), {"workflow": workflow})
            for (schedule_id,) in found.all():
                if schedule_id not in wanted:
                    await conn.execute(schedule_sql.delete_one(), {"id": schedule_id})
            if entries:  # one executemany for all of them
                rows = [schedule_codec.row(entry) for entry in entries]
                await conn.execute(schedule_sql.upsert("postgresql"), rows)

    async def add_schedule(self, record: ScheduleRecord) -> None:
        """Insert one schedule; `ConflictError` when the id exists."""
        async with self._transaction() as conn:
            try:
                await conn.execute(schedule_sql.insert(), schedule_codec.row(record))
            except IntegrityError as error:
                raise ConflictError(f"schedule {record.id} already exists") from error

    async def list_schedules(self, workflow: str | None = None) -> list[ScheduleRecord]:
        """Every schedule (of one workflow), by workflow and position."""
        stmt = schedule_sql.select_all(workflow is not None)
        params = {} if workflow is None else {"workflow": workflow}
        return await self._select(stmt, params, schedule_codec.decode)

    async def get_schedule(self, schedule_id: str) -> ScheduleRecord | None:
        """One schedule, or None."""
        stmt = schedule_sql.select_one()
        found = await self._select(stmt, {"id": schedule_id}, schedule_codec.decode)
        return found[0] if found else None

    async def schedules_token(self) -> Hashable | None:
        """None: other processes write without a cheap sign here, so every tick reads."""
        return None

    async def next_due_at(self) -> float | None:
        """The soonest `due_at` of an unpaused schedule."""
        found = await self._select(schedule_sql.next_due(), {}, lambda row: row[0])
        return None if not found or found[0] is None else float(found[0])

    async def update_schedule(
        self, change: ScheduleUpdate, batch: Batch | None = None
    ) -> list[EventRecord]:
        """Write a schedule and `batch` together, while it is still at `change.revision`."""
        fields, params = schedule_codec.update_params(change)
        async with self._transaction() as conn:
            result = await conn.execute(schedule_sql.guarded_update(fields), params)
            if result.rowcount != 1:
                revision = await conn.scalar(schedule_sql.current_revision(), {"k_id": change.id})
                raise schedule_codec.lost(change, None if revision is None else int(revision))
            if not batch:
                return []
            for item in batch.changes:
                await _apply(conn, item)
            return await _insert_events(conn, batch.events)

    async def update_schedules(
        self, items: list[tuple[ScheduleUpdate, Batch | None]]
    ) -> list[BaseException | None]:
        """Many guarded schedule writes and their batches in one transaction.

        Optimistic: all of it under one savepoint (a lost guard just writes nothing and skips
        its batch).  Should a row be refused, that savepoint is rolled back and the items are
        replayed each under its own, so a refused item is undone alone.
        """
        async with self._transaction() as conn:
            try:
                async with conn.begin_nested():
                    return await self._guarded_items(conn, items, alone=False)
            except Exception:  # a refused row: find it, item by item
                return await self._guarded_items(conn, items, alone=True)

    async def _guarded_items(
        self,
        conn: AsyncConnection,
        items: list[tuple[ScheduleUpdate, Batch | None]],
        alone: bool,
    ) -> list[BaseException | None]:
        outcome: list[BaseException | None] = []
        for change, batch in items:
            fields, params = schedule_codec.update_params(change)
            try:
                async with conn.begin_nested() if alone else contextlib.nullcontext():
                    result = await conn.execute(schedule_sql.guarded_update(fields), params)
                    if result.rowcount != 1:
                        found = await conn.scalar(
                            schedule_sql.current_revision(), {"k_id": change.id}
                        )
                        revision = None if found is None else int(found)
                        outcome.append(schedule_codec.lost(change, revision))
                        continue
                    for item in batch.changes if batch else []:
                        await _apply(conn, item)
                    if batch:
                        await _insert_events(conn, batch.events)
            except Exception as error:
                if not alone:
                    raise
                outcome.append(error)  # this item only; the others still commit
            else:
                outcome.append(None)
        return outcome


# --- one batch ----------------------------------------------------------------------------


async def _apply(conn: AsyncConnection, change: Change) -> None:
    if isinstance(change, RunInsert):
        run = change.run
        await _insert(conn, queries.insert_run(), [codec.run_row(run)], "run", run.id)
        rows = [{**codec.task_row(t, i), "run_id": run.id} for i, t in enumerate(change.tasks)]
        guards.check_unique_tasks(run.id, [r["task_id"] for r in rows])
        if rows:
            await _insert(conn, queries.insert_task(), rows, "task", run.id)
    elif isinstance(change, TaskInsert):
        task = change.task
        seq = await conn.scalar(queries.next_task_seq(), {"k_run_id": task.run_id})
        await _insert(
            conn, queries.insert_task(), [codec.task_row(task, int(seq))], "task", task.run_id
        )
    else:
        await _update(conn, change)


async def _insert(
    conn: AsyncConnection, stmt: sa.Insert, rows: list[dict[str, Any]], kind: str, run_id: str
) -> None:
    try:
        await conn.execute(stmt, rows)
    except IntegrityError as exc:
        if _pgcode(exc) == FOREIGN_KEY_VIOLATION:
            raise guards.not_found("run", run_id) from exc
        task_id = rows[0]["task_id"] if kind == "task" else None
        raise guards.duplicate(kind, run_id, task_id) from exc


async def _update(conn: AsyncConnection, change: RunUpdate | TaskUpdate) -> None:
    kind = "run" if isinstance(change, RunUpdate) else "task"
    n_from = None if change.from_statuses is None else len(change.from_statuses)
    key = queries.key_params(change)
    params = {**key, **queries.status_params(change.from_statuses)}
    if change.fields:
        values = codec.update_values(kind, change.fields)
        stmt = queries.guarded_update(kind, tuple(sorted(values)), n_from)
        params.update({f"v_{f}": v for f, v in values.items()})
        touched = (await conn.execute(stmt, params)).rowcount == 1
    else:
        touched = (
            await conn.execute(queries.guard_check(kind, n_from), params)
        ).first() is not None
    if touched:
        return
    raise guards.lost_race(change, await conn.scalar(queries.current_status(kind), key))


async def _insert_events(conn: AsyncConnection, batch: list[EventRecord]) -> list[EventRecord]:
    if not batch:
        return []
    await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(EVENTS_LOCK_KEY)))
    stmt = queries.insert_event().returning(events.c.id, sort_by_parameter_order=True)
    result = await conn.execute(stmt, [codec.event_row(e) for e in batch])
    ids = [int(row[0]) for row in result]
    return [
        EventRecord(e.type, e.subject, e.time, e.data, e.run_id, e.workflow, e.task_id, i)
        for e, i in zip(batch, ids, strict=True)
    ]
