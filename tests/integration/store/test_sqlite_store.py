"""What only the SQLite store promises: group commit, durability after kill -9, its file."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from basir.store.base import ConflictError, StoreError
from basir.store.records import Batch, EventRecord, RunInsert, RunRecord, TaskRecord, TaskUpdate
from basir.store.sqlite import SqliteStore
from basir.store.tables import SCHEMA_REVISION

N_TASKS = 300
N_DURABLE = 20_000  # tasks the child may finish; it is killed long before


def _run_insert(run_id: str, n: int) -> Batch:
    run = RunRecord(run_id, "ci", 1, "running", created_at=1.0, updated_at=1.0)
    tasks = [TaskRecord(run_id, f"t{i}", "pending") for i in range(n)]
    return Batch([RunInsert(run, tasks)])


def _finish(run_id: str, i: int, from_: str = "pending") -> Batch:
    return Batch(
        [TaskUpdate(run_id, f"t{i}", {"status": "succeeded"}, (from_,))],
        [EventRecord("task.succeeded", f"{run_id}/t{i}", 1.0, run_id=run_id, task_id=f"t{i}")],
    )


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = SqliteStore(f"sqlite:///{tmp_path / 'nested' / 'dir' / 'basir.db'}")
    await store.open()
    yield store
    await store.close()


async def test_open_creates_the_folder_with_wal_and_schema_version(
    sqlite_store: SqliteStore,
) -> None:
    assert sqlite_store.path.exists()
    with sqlite3.connect(sqlite_store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        version = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    assert version == [(SCHEMA_REVISION,)]


async def test_group_commit_commits_concurrent_writes_together(sqlite_store: SqliteStore) -> None:
    await sqlite_store.write(_run_insert("r1", N_TASKS))
    assert sqlite_store._writer is not None
    groups_before = sqlite_store._writer.groups
    writes = [sqlite_store.write(_finish("r1", i)) for i in range(N_TASKS)]
    # One of them loses a race; it must fail alone, not its whole group.
    writes.append(sqlite_store.write(_finish("r1", 0, from_="running")))
    results = await asyncio.gather(*writes, return_exceptions=True)
    assert isinstance(results[-1], ConflictError)
    assert all(isinstance(r, list) and len(r) == 1 for r in results[:-1])
    groups = sqlite_store._writer.groups - groups_before
    assert groups < N_TASKS / 10, f"{groups} transactions for {N_TASKS} writes"
    tasks = await sqlite_store.get_tasks("r1")
    assert {t.status for t in tasks} == {"succeeded"}


async def test_reads_run_while_a_group_is_written(sqlite_store: SqliteStore) -> None:
    await sqlite_store.write(_run_insert("r1", N_TASKS))
    writes = asyncio.gather(*(sqlite_store.write(_finish("r1", i)) for i in range(N_TASKS)))
    reads = await asyncio.gather(*(sqlite_store.get_tasks("r1") for _ in range(20)))
    await writes
    assert all(len(r) == N_TASKS for r in reads)


async def test_unknown_schema_revision_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'basir.db'}"
    store = SqliteStore(url)
    await store.open()
    await store.close()
    with sqlite3.connect(tmp_path / "basir.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StoreError, match="9999"):
        await SqliteStore(url).open()


async def test_tables_without_a_revision_are_refused(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "basir.db") as conn:
        conn.execute("CREATE TABLE runs (id TEXT)")
    with pytest.raises(StoreError, match="no schema revision"):
        await SqliteStore(f"sqlite:///{tmp_path / 'basir.db'}").open()


async def test_not_open_and_closed_store_refuse_work(tmp_path: Path) -> None:
    store = SqliteStore(f"sqlite:///{tmp_path / 'basir.db'}")
    with pytest.raises(StoreError, match="not open"):
        await store.get_run("r1")
    await store.open()
    await store.open()  # idempotent
    await store.close()
    await store.close()
    assert not await store.ping()
    with pytest.raises(StoreError, match="not open"):
        await store.kv_put("k", "v", {})


# --- durability ---------------------------------------------------------------------------

# The child writes with many concurrent coroutines and prints an acknowledgement line after
# each write returns; the parent kills it with SIGKILL (or it kills itself) mid-stream.
CHILD = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from basir.store.records import Batch, EventRecord, TaskUpdate
    from basir.store.sqlite import SqliteStore

    async def main(url, self_kill):
        store = SqliteStore(url)
        await store.open()

        async def worker(w):
            for i in range(w, int(sys.argv[3]), 8):
                batch = Batch(
                    [TaskUpdate("r1", f"t{i}", {"status": "succeeded"}, ("pending",))],
                    [EventRecord("task.succeeded", f"r1/t{i}", 1.0, run_id="r1", task_id=f"t{i}")],
                )
                written = await store.write(batch)
                print(i, written[0].id, flush=True)
                if self_kill and i >= 40:
                    os.kill(os.getpid(), signal.SIGKILL)

        await asyncio.gather(*(worker(w) for w in range(8)))

    asyncio.run(main(sys.argv[1], sys.argv[2] == "self"))
    """
)


@pytest.mark.parametrize("killer", ["parent", "self"])
async def test_acknowledged_writes_survive_kill_9(tmp_path: Path, killer: str) -> None:
    url = f"sqlite:///{tmp_path / 'basir.db'}"
    setup = SqliteStore(url)
    await setup.open()
    await setup.write(_run_insert("r1", N_DURABLE))
    await setup.close()

    acked = await asyncio.to_thread(_run_child_until_killed, url, killer)

    store = SqliteStore(url)
    await store.open()
    try:
        tasks = {t.task_id: t.status for t in await store.get_tasks("r1")}
        events = await store.list_events(limit=N_DURABLE)
    finally:
        await store.close()
    assert len(acked) >= (200 if killer == "parent" else 1)
    assert all(tasks[f"t{i}"] == "succeeded" for i in acked)
    # Atomic across the crash: every finished task has its event and no event lacks its task.
    finished = {tid for tid, status in tasks.items() if status == "succeeded"}
    assert {e.task_id for e in events} == finished
    assert {e.id for e in events} >= set(acked.values())


def _run_child_until_killed(url: str, killer: str) -> dict[int, int]:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, url, killer, str(N_DURABLE)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    if killer == "parent":
        while len(lines) < 200:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
        proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    lines += out.splitlines(keepends=True)
    assert proc.returncode == -signal.SIGKILL, err
    # A line the kill cut short was never reported whole: only finished lines were acked.
    finished = (line.split() for line in lines if line.endswith("\n"))
    return {int(i): int(e) for i, e in finished}


async def test_unusable_path_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(StoreError, match="cannot open the SQLite store"):
        await SqliteStore(f"sqlite:///{tmp_path / 'file' / 'basir.db'}").open()
    (tmp_path / "junk.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError):
        await SqliteStore(f"sqlite:///{tmp_path / 'junk.db'}").open()


async def test_checkpoints_run_off_the_writer_and_reach_the_database_file(
    sqlite_store: SqliteStore,
) -> None:
    writer_conn = sqlite_store._writer._conn if sqlite_store._writer else None
    assert writer_conn is not None
    assert writer_conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    await sqlite_store.write(_run_insert("r1", N_TASKS))

    def rows_in_main_file() -> int:
        # immutable=1 reads the database file alone, ignoring the WAL: only checkpointed pages.
        uri = f"file:{sqlite_store.path}?immutable=1"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
            try:
                return int(conn.execute("SELECT count(*) FROM tasks").fetchone()[0])
            except sqlite3.OperationalError:  # the schema itself not checkpointed yet
                return 0

    for _ in range(100):
        if rows_in_main_file() == N_TASKS:
            break
        await asyncio.sleep(0.05)
    assert rows_in_main_file() == N_TASKS


async def test_a_tick_reads_schedules_through_indexes_never_a_scan(tmp_path: Path) -> None:
    """EXPLAIN QUERY PLAN of the tick's reads: a range search of `due_at`, the partial index
    of queued fires, runs by primary key (a scan of a million schedules would cost seconds)."""
    from basir.store.sqlite_sql import statement

    store = SqliteStore(f"sqlite:///{tmp_path / 'basir.db'}")
    await store.open()
    await store.close()
    conn = sqlite3.connect(tmp_path / "basir.db")
    params = {"now": 1.0, "limit": 10, **{f"r{i}": "x" for i in range(256)}}
    plans = {}
    for name in ("select_due", "select_queued", "select_run_statuses"):
        sql = statement(f"schedule_sql.{name}")
        rows = conn.execute(f"EXPLAIN QUERY PLAN {sql.text}", sql.params(params)).fetchall()
        plans[name] = " ".join(row[-1] for row in rows)
    conn.close()
    assert "SEARCH schedules USING INDEX ix_schedules_due_at (due_at<?)" in plans["select_due"]
    assert "USING INDEX ix_schedules_queued" in plans["select_queued"]
    assert plans["select_run_statuses"].startswith("SEARCH runs USING")
