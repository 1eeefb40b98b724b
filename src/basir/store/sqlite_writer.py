"""The SQLite writer thread: one connection, group commit, one future per job.

`submit(job)` / `submit_batch(batch)` queue work and return an asyncio future.  The thread
takes everything queued and commits it in ONE transaction (`BEGIN IMMEDIATE` … `COMMIT`):

1. Optimistically, all of it at once: consecutive batches are merged per statement shape and
   written by multi-row statements, so a group of 500 one-transition
   batches costs a handful of SQLite calls (each step of a statement hands the GIL over and
   must win it back from the event loop; fewer steps keep commits fast under load).
2. If anything in the group fails (a lost race, a bug), the transaction is rolled back and
   the group replayed job by job, each under its own SAVEPOINT: a failing job is rolled back
   alone and fails only its own future.

Futures are resolved only after COMMIT (`call_soon_threadsafe`, one callback per event loop and
group): a caller hears of its write once it is durable.  One commit per group means one WAL
append for thousands of task transitions, and no fsync storm.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from basir.store.base import StoreError
from basir.store.records import Batch
from basir.store.sqlite_apply import Mismatch, apply_batch, apply_batches

# A job runs on the writer connection; `precise` asks for the row-by-row replay of a Mismatch.
Job = Callable[[sqlite3.Connection, bool], Any]

# Jobs committed together at most; bounds the time a group holds results back.
MAX_GROUP_JOBS = 2000


@dataclass(slots=True)
class _Pending:
    job: Job | None  # None: a batch (merged with its neighbours) or the stop sentinel
    batch: Batch | None
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    result: Any = None
    error: BaseException | None = None

    @property
    def is_stop(self) -> bool:
        """The sentinel `stop()` queues."""
        return self.job is None and self.batch is None

    def run(self, conn: sqlite3.Connection, precise: bool) -> Any:
        """Run this job alone on `conn`."""
        if self.batch is not None:
            return apply_batch(conn, self.batch, precise)
        assert self.job is not None
        return self.job(conn, precise)


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

    def __init__(
        self,
        conn: sqlite3.Connection,
        name: str = "basir-sqlite-writer",
        *,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self._conn = conn
        self._after_commit = after_commit
        self._queue: queue.SimpleQueue[_Pending] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._stopping = False
        self.groups = 0  # transactions committed (for tests and the benchmark)

    def start(self) -> None:
        """Start the writer thread."""
        self._thread.start()

    def submit(self, job: Job) -> asyncio.Future[Any]:
        """Queue a job; the future resolves with its result once its group is committed."""
        return self._put(job, None)

    def submit_batch(self, batch: Batch) -> asyncio.Future[Any]:
        """Queue a batch; the future resolves with its events (ids assigned) once committed."""
        return self._put(None, batch)

    def _put(self, job: Job | None, batch: Batch | None) -> asyncio.Future[Any]:
        if self._stopping:
            raise StoreError("the store is closing; no more writes")
        if not self._thread.is_alive():
            raise StoreError("the SQLite writer thread is not running")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.put(_Pending(job, batch, future, loop))
        return future

    async def stop(self) -> None:
        """Commit everything queued so far, then close the connection and end the thread."""
        self._stopping = True
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()
        self._queue.put(_Pending(None, None, done, loop))
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
                jobs = [p for p in group if not p.is_stop]
                stopping = next((p for p in group if p.is_stop), None)
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
            if not p.is_stop:
                p.error = StoreError("the store was closed before this write")
        self._notify(left)

    def _commit(self, jobs: list[_Pending]) -> None:
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._run_merged(conn, jobs)
            except Exception:
                merged = False
            else:
                merged = True
            if not merged:  # (outside the except: a job's error must not chain to this one)
                conn.execute("ROLLBACK")
                conn.execute("BEGIN IMMEDIATE")
                for p in jobs:
                    self._run_alone(conn, p)
            conn.execute("COMMIT")
            self.groups += 1
            if self._after_commit is not None:
                self._after_commit()
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
    def _run_merged(conn: sqlite3.Connection, jobs: list[_Pending]) -> None:
        for is_batch, run in groupby(jobs, key=lambda p: p.batch is not None):
            same = list(run)
            if is_batch:
                per_batch = apply_batches(conn, [p.batch for p in same if p.batch is not None])
                for p, events in zip(same, per_batch, strict=True):
                    p.result = events
            else:
                for p in same:
                    p.result = p.run(conn, False)

    @staticmethod
    def _run_alone(conn: sqlite3.Connection, p: _Pending) -> None:
        p.result = None
        conn.execute("SAVEPOINT job")
        try:
            p.result = p.run(conn, False)
        except Mismatch:
            conn.execute("ROLLBACK TO job")
            p.error = Mismatch()
        except Exception as exc:
            p.error = exc
        if isinstance(p.error, Mismatch):  # replay row by row to name the row at fault
            p.error = None
            try:
                p.result = p.run(conn, True)
            except Exception as exc:
                p.error = exc
        if p.error is not None:
            conn.execute("ROLLBACK TO job")
            p.error = _as_store_error(p.error)
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
