"""The SQLite writer thread: one connection, group commit, one future per job.

`submit(job)` queues a job and returns an asyncio future.  The thread takes everything queued,
opens ONE transaction (`BEGIN IMMEDIATE`), runs each job under its own SAVEPOINT — a job that
raises is rolled back alone and fails only its own future — and commits once.  Only then are the
futures resolved (`call_soon_threadsafe`, one callback per event loop and group): a caller hears
of its write after it is durable.  One commit per group means one WAL append for thousands of
task transitions, and no fsync storm.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from basir.store.base import StoreError
from basir.store.sqlite_apply import Mismatch

# A job runs on the writer connection; `precise` asks for the row-by-row replay of a Mismatch.
Job = Callable[[sqlite3.Connection, bool], Any]

# Jobs committed together at most; bounds the time a group holds results back.
MAX_GROUP_JOBS = 2000


@dataclass(slots=True)
class _Pending:
    job: Job | None  # None: the stop sentinel
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    result: Any = None
    error: BaseException | None = None


def _settle(done: list[_Pending]) -> None:
    """Resolve futures on their event loop (a cancelled caller's future is left alone)."""
    for p in done:
        if p.future.done():
            continue
        if p.error is not None:
            p.future.set_exception(p.error)
        else:
            p.future.set_result(p.result)


def _as_store_error(exc: BaseException) -> BaseException:
    if isinstance(exc, sqlite3.Error):
        err = StoreError(f"sqlite: {exc}")
        err.__cause__ = exc
        return err
    return exc


class GroupCommitWriter:
    """Owns the writer connection and the thread that commits queued jobs in groups."""

    def __init__(self, conn: sqlite3.Connection, name: str = "basir-sqlite-writer") -> None:
        self._conn = conn
        self._queue: queue.SimpleQueue[_Pending] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.groups = 0  # transactions committed (for tests and the benchmark)
        self._stopping = False

    def start(self) -> None:
        """Start the writer thread."""
        self._thread.start()

    def submit(self, job: Job) -> asyncio.Future[Any]:
        """Queue a job; the future resolves with its result once its group is committed."""
        if self._stopping:
            raise StoreError("the store is closing; no more writes")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.put(_Pending(job, future, loop))
        return future

    async def stop(self) -> None:
        """Commit everything queued so far, then close the connection and end the thread."""
        self._stopping = True
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()
        self._queue.put(_Pending(None, done, loop))
        await done
        await asyncio.to_thread(self._thread.join)

    # --- the thread ----------------------------------------------------------------------

    def _run(self) -> None:
        stopping: _Pending | None = None
        try:
            while stopping is None:
                group = [self._queue.get()]
                while len(group) < MAX_GROUP_JOBS:
                    try:
                        group.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                jobs = [p for p in group if p.job is not None]
                stopping = next((p for p in group if p.job is None), None)
                if jobs:
                    self._commit(jobs)
        finally:
            self._conn.close()
            self._fail_leftovers()
            if stopping is not None:
                self._notify([stopping])

    def _fail_leftovers(self) -> None:
        left: list[_Pending] = []
        while True:
            try:
                left.append(self._queue.get_nowait())
            except queue.Empty:
                break
        for p in left:
            p.error = StoreError("the store was closed before this write") if p.job else None
        self._notify(left)

    def _commit(self, jobs: list[_Pending]) -> None:
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            for p in jobs:
                self._run_job(conn, p)
            conn.execute("COMMIT")
            self.groups += 1
        except BaseException as exc:  # the transaction itself failed: no job of it landed
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            for p in jobs:
                p.result, p.error = None, p.error or _as_store_error(exc)
            if not isinstance(exc, Exception):
                self._notify(jobs)
                raise
        self._notify(jobs)

    @staticmethod
    def _run_job(conn: sqlite3.Connection, p: _Pending) -> None:
        assert p.job is not None
        conn.execute("SAVEPOINT job")
        try:
            try:
                p.result = p.job(conn, False)
            except Mismatch:
                conn.execute("ROLLBACK TO job")
                p.result = p.job(conn, True)
        except Exception as exc:
            conn.execute("ROLLBACK TO job")
            p.error = _as_store_error(exc)
        conn.execute("RELEASE job")

    @staticmethod
    def _notify(done: list[_Pending]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Pending]] = {}
        for p in done:
            by_loop.setdefault(p.loop, []).append(p)
        for loop, items in by_loop.items():
            # RuntimeError: that loop is closed, nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, items)
