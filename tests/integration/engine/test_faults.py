"""An engine fault never leaves a run silently running (issue 7 item 2).

Transient store errors are waited out and the run carries on; any other error of the engine's
own ends the run `failed` with an `engine.error` event, or, where the state is unknown, stops
the engine loudly so that a new engine resumes the run from the store.  The store fault is
injected by a thin wrapper (the store is the engine's external edge); one test locks a real
SQLite file from a second connection instead.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import sqlalchemy.exc

from basir.config import Settings
from basir.coordinator.workflows import apply_workflow
from basir.engine import progression
from basir.engine.faults import is_transient_store_error, store_retry_delay_s
from basir.engine.runtime import Engine
from basir.errors import BasirError
from basir.spec.models import WorkflowSpec
from basir.store.base import Store
from basir.store.factory import open_store
from basir.store.records import Batch, EventRecord, WorkflowVersion

CHAIN = {
    "name": "chain",
    "tasks": [
        {"id": "a", "uses": "noop"},
        {"id": "b", "needs": ["a"], "uses": "noop"},
        {"id": "c", "needs": ["b"], "uses": "noop"},
    ],
}


class FlakyStore:
    """A store whose `write` raises the given errors, in turn, from its `fail_from`-th call."""

    def __init__(self, inner: Store, errors: list[BaseException], fail_from: int) -> None:
        self.inner = inner
        self.errors = list(errors)
        self.fail_from = fail_from
        self.writes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def write(self, batch: Batch) -> list[EventRecord]:
        self.writes += 1
        if self.writes >= self.fail_from and self.errors:
            raise self.errors.pop(0)
        return await self.inner.write(batch)


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    store = open_store(f"sqlite:///{tmp_path / 'basir.db'}")
    await store.open()
    yield store
    await store.close()


@pytest.fixture
async def loop_errors() -> AsyncIterator[list[dict[str, Any]]]:
    """What reaches the test loop's exception handler ("Task exception was never retrieved")."""
    seen: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    yield seen
    loop.set_exception_handler(None)


async def test_the_loop_error_probe_sees_unretrieved_exceptions(
    loop_errors: list[dict[str, Any]],
) -> None:
    async def boom() -> None:
        raise RuntimeError("unseen")

    task = asyncio.create_task(boom())
    await asyncio.sleep(0.01)
    del task
    gc.collect()
    assert [str(c.get("exception")) for c in loop_errors] == ["unseen"]
    loop_errors.clear()


async def start_engine(store: Any, tmp_path: Path, **kwargs: Any) -> Engine:
    engine = Engine(store, Settings(home=tmp_path / "home"), workdir=tmp_path, **kwargs)
    await engine.start(resume=False)
    return engine


async def applied(store: Store, document: dict[str, Any]) -> WorkflowVersion:
    version, _created = await apply_workflow(store, WorkflowSpec.model_validate(document))
    return version


async def engine_errors(store: Store, run_id: str) -> list[EventRecord]:
    return await store.list_events(run_id=run_id, types=("engine.error",))


TRANSIENT = [
    sqlite3.OperationalError("database is locked"),
    sqlite3.OperationalError("disk I/O error"),
    OSError(errno.ENOSPC, "No space left on device"),
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed mid-operation"),
    sqlalchemy.exc.OperationalError("COMMIT", {}, ConnectionResetError("server closed")),
    sqlalchemy.exc.InterfaceError("COMMIT", {}, Exception("connection is closed")),
]


@pytest.mark.parametrize("error", TRANSIENT, ids=lambda e: type(e).__name__ + ":" + str(e)[:20])
async def test_transient_store_errors_are_waited_out(
    error: BaseException,
    sqlite_store: Store,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    loop_errors: list[dict[str, Any]],
) -> None:
    flaky = FlakyStore(sqlite_store, [error, error, error], fail_from=3)
    engine = await start_engine(flaky, tmp_path)
    seen_retrying: list[str | None] = []
    original = flaky.write

    async def watching(batch: Batch) -> list[EventRecord]:
        seen_retrying.append(engine.health().store_retrying)
        return await original(batch)

    flaky.write = watching  # type: ignore[method-assign]
    try:
        with caplog.at_level(logging.WARNING, logger="basir.engine.journal"):
            run = await engine.submit(await applied(sqlite_store, CHAIN))
            final = await asyncio.wait_for(engine.wait(run.id), timeout=30)
    finally:
        await engine.stop(grace_s=0)
    assert final.status == "succeeded"
    assert any(seen is not None and str(error) in seen for seen in seen_retrying)
    assert engine.health().store_retrying is None
    retries = [r for r in caplog.records if "store write failed" in r.getMessage()]
    assert len(retries) == 3
    gc.collect()
    assert loop_errors == []


async def test_a_locked_sqlite_file_is_waited_out(sqlite_store: Store, tmp_path: Path) -> None:
    engine = await start_engine(sqlite_store, tmp_path)
    document = {
        "name": "locked",
        "tasks": [
            {"id": "a", "uses": "sleep", "with": {"seconds": 0.3}},
            {"id": "b", "needs": ["a"], "uses": "noop"},
        ],
    }
    try:
        with engine.bus.subscribe(lambda e: e.type == "task.started") as started:
            run = await engine.submit(await applied(sqlite_store, document))
            await asyncio.wait_for(started.get(), timeout=10)
        holder = sqlite3.connect(tmp_path / "basir.db", timeout=10, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            deadline = time.monotonic() + 20
            while engine.health().store_retrying is None:  # the engine's busy_timeout passes
                assert time.monotonic() < deadline, "the engine never saw the lock"
                await asyncio.sleep(0.05)
            assert "locked" in (engine.health().store_retrying or "")
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        final = await asyncio.wait_for(engine.wait(run.id), timeout=30)
    finally:
        await engine.stop(grace_s=0)
    assert final.status == "succeeded"
    assert engine.health().store_retrying is None


async def test_a_failed_store_write_stops_the_engine_and_the_run_resumes(
    sqlite_store: Store, tmp_path: Path, loop_errors: list[dict[str, Any]]
) -> None:
    flaky = FlakyStore(sqlite_store, [ValueError("constraint broken")], fail_from=2)
    engine = await start_engine(flaky, tmp_path)
    run = await engine.submit(await applied(sqlite_store, CHAIN))
    with pytest.raises(BasirError) as raised:
        await asyncio.wait_for(engine.wait(run.id), timeout=10)
    assert raised.value.code == "engine.fault"
    assert "constraint broken" in raised.value.message
    health = engine.health()
    assert not health.pump_alive
    assert health.fault is not None and "constraint broken" in health.fault
    with pytest.raises(BasirError):
        await engine.cancel_run(run.id)
    await engine.stop(grace_s=0)
    gc.collect()
    assert loop_errors == []

    again = await start_engine(sqlite_store, tmp_path)
    try:
        await again.resume(run.id)
        final = await asyncio.wait_for(again.wait(run.id), timeout=10)
    finally:
        await again.stop(grace_s=0)
    assert final.status == "succeeded"


async def test_an_error_ending_an_attempt_fails_the_task_and_the_run(
    sqlite_store: Store,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    loop_errors: list[dict[str, Any]],
) -> None:
    def broken(*_args: Any) -> Any:
        raise RuntimeError("rule exploded")

    monkeypatch.setattr("basir.engine.flow.after_failure", broken)
    engine = await start_engine(sqlite_store, tmp_path)
    document = {
        "name": "broken",
        "tasks": [
            {"id": "bad", "uses": "fail"},
            {"id": "next", "needs": ["bad"], "uses": "noop"},
        ],
    }
    try:
        run = await engine.submit(await applied(sqlite_store, document))
        final = await asyncio.wait_for(engine.wait(run.id), timeout=10)
    finally:
        await engine.stop(grace_s=0)
    assert final.status == "failed"
    assert final.error == "RuntimeError: rule exploded"
    rows = {row.task_id: row for row in await sqlite_store.get_tasks(run.id)}
    assert rows["bad"].status == "failed"
    assert rows["bad"].error == "RuntimeError: rule exploded"
    assert rows["next"].status == "cancelled"
    events = await engine_errors(sqlite_store, run.id)
    assert [(e.task_id, e.data["error"]) for e in events] == [
        ("bad", "RuntimeError: rule exploded")
    ]
    assert (await sqlite_store.get_run(run.id)).status == "failed"  # type: ignore[union-attr]
    gc.collect()
    assert loop_errors == []


async def test_an_error_in_the_dag_walk_fails_the_run(
    sqlite_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    real_gate = progression.gate

    def gate_once_broken(*args: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:  # `b`, gated when `a` ends, inside a's attempt
            raise KeyError("lost")
        return real_gate(*args)

    monkeypatch.setattr(progression, "gate", gate_once_broken)
    engine = await start_engine(sqlite_store, tmp_path)
    try:
        run = await engine.submit(await applied(sqlite_store, CHAIN))
        final = await asyncio.wait_for(engine.wait(run.id), timeout=10)
    finally:
        await engine.stop(grace_s=0)
    assert final.status == "failed"
    statuses = {r.task_id: r.status for r in await sqlite_store.get_tasks(run.id)}
    assert statuses == {"a": "succeeded", "b": "cancelled", "c": "cancelled"}
    assert len(await engine_errors(sqlite_store, run.id)) == 1


class BrokenLatency:
    """Metrics whose schedule-latency probe raises: a fault while dispatching."""

    def observe_task(self, duration_s: float, status: str, workflow: str) -> None:
        """Accept."""

    def observe_queue_wait(self, seconds: float, workflow: str) -> None:
        """Raise, as a broken collaborator of the dispatcher would."""
        raise ZeroDivisionError("latency")

    def observe_schedule_latency(self, seconds: float) -> None:
        """Accept."""

    def observe_retry(self, workflow: str) -> None:
        """Accept."""

    def observe_preemption(self, workflow: str) -> None:
        """Accept."""

    def observe_deadline_miss(self, workflow: str) -> None:
        """Accept."""

    def observe_run(self, status: str, workflow: str) -> None:
        """Accept."""

    def observe_commit(self, seconds: float, size: int) -> None:
        """Accept."""


async def test_an_error_while_dispatching_fails_that_run(
    sqlite_store: Store, tmp_path: Path, loop_errors: list[dict[str, Any]]
) -> None:
    engine = await start_engine(sqlite_store, tmp_path, metrics=BrokenLatency())
    try:
        run = await engine.submit(await applied(sqlite_store, CHAIN))
        final = await asyncio.wait_for(engine.wait(run.id), timeout=10)
        assert engine.health().pump_alive  # one run failed; the engine carries on
    finally:
        await engine.stop(grace_s=0)
    assert final.status == "failed"
    statuses = {r.task_id: r.status for r in await sqlite_store.get_tasks(run.id)}
    assert statuses == {"a": "failed", "b": "cancelled", "c": "cancelled"}
    gc.collect()
    assert loop_errors == []


def test_transient_store_errors_are_told_from_the_rest() -> None:
    for error in TRANSIENT:
        assert is_transient_store_error(error), error
    restarting = asyncpg.exceptions.CannotConnectNowError("the database system is starting up")
    assert is_transient_store_error(restarting)  # SQLSTATE 57P03
    wrapped = RuntimeError("write failed")
    wrapped.__cause__ = sqlite3.OperationalError("database is locked")
    assert is_transient_store_error(wrapped)
    for error in (
        sqlite3.OperationalError("no such table: runs"),
        sqlite3.IntegrityError("UNIQUE constraint failed"),
        ValueError("bad"),
        OSError(errno.EACCES, "denied"),
    ):
        assert not is_transient_store_error(error), error


def test_store_retry_backoff_grows_to_a_cap() -> None:
    delays = [store_retry_delay_s(n) for n in range(1, 40)]
    assert delays[0] == pytest.approx(0.05)
    assert delays == sorted(delays)
    assert max(delays) == 5.0
