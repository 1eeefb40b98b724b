"""The group-commit writer on an in-memory SQLite connection: isolation of failing jobs."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator

import pytest

from basir.store.base import StoreError
from basir.store.sqlite_apply import Mismatch
from basir.store.sqlite_writer import GroupCommitWriter, Job


@pytest.fixture
async def writer() -> AsyncIterator[GroupCommitWriter]:
    conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY)")
    w = GroupCommitWriter(conn)
    w.start()
    yield w
    await w.stop()


def insert(key: str) -> Job:
    def job(conn: sqlite3.Connection, precise: bool) -> str:
        conn.execute("INSERT INTO t VALUES (?)", (key,))
        return key

    return job


def keys(conn: sqlite3.Connection) -> list[str]:
    return [k for (k,) in conn.execute("SELECT k FROM t ORDER BY k")]


async def test_a_failing_job_fails_alone(writer: GroupCommitWriter) -> None:
    def bad(conn: sqlite3.Connection, precise: bool) -> None:
        conn.execute("INSERT INTO t VALUES ('half')")
        raise ValueError("nope")

    futures = [writer.submit(insert(f"k{i}")) for i in range(5)]
    futures.insert(2, writer.submit(bad))
    futures.append(writer.submit(insert("k0")))
    results = await asyncio.gather(*futures, return_exceptions=True)
    assert results[:2] == ["k0", "k1"] and results[3:6] == ["k2", "k3", "k4"]
    assert isinstance(results[2], ValueError)
    assert isinstance(results[6], StoreError) and "UNIQUE" in str(results[6])
    rows = await writer.submit(lambda conn, _p: keys(conn))
    assert rows == ["k0", "k1", "k2", "k3", "k4"]


async def test_a_mismatch_is_replayed_precisely(writer: GroupCommitWriter) -> None:
    seen: list[bool] = []

    def job(conn: sqlite3.Connection, precise: bool) -> str:
        seen.append(precise)
        conn.execute("INSERT INTO t VALUES ('m')")
        if not precise:
            raise Mismatch
        return "precise"

    assert await writer.submit(job) == "precise"
    # Tried with the whole group, then alone, then replayed row by row.
    assert seen == [False, False, True]
    assert await writer.submit(lambda conn, _p: keys(conn)) == ["m"]


async def test_stop_flushes_and_later_writes_fail() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY)")
    w = GroupCommitWriter(conn)
    w.start()
    futures = [w.submit(insert(f"k{i}")) for i in range(50)]
    await w.stop()
    assert [f.result() for f in futures] == [f"k{i}" for i in range(50)]
    with pytest.raises(StoreError, match="closing"):
        w.submit(insert("late"))
