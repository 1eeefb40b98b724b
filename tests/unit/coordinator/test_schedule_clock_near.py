"""The schedule clock with its near-future heap loaded before every tick, as the server's loop
does (`Scheduler.refill` after each tick): every clock test again, and what the heap adds."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_schedule_clock import *  # noqa: F403 - every clock test, run again with the heap
from test_schedule_clock import SPEC, T0, setup  # noqa: F401 - the fixture, used below

from basir.config import Settings
from basir.coordinator.schedule_controls import set_paused
from basir.coordinator.schedules import Scheduler
from basir.coordinator.workflows import apply_workflow
from basir.engine.runtime import Engine
from basir.scheduler.near_future import WINDOW_S
from basir.spec import load_workflow
from basir.store.memory import MemoryStore
from basir.store.records import ScheduleUpdate
from basir.store.sqlite import SqliteStore


@pytest.fixture(autouse=True)
def _near_future_loaded(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    real = Scheduler.tick

    async def tick(self: Scheduler, now: float | None = None) -> list[str]:
        await self.refill(now)
        return await real(self, now)

    monkeypatch.setattr(Scheduler, "tick", tick)
    yield


def counting_reads(store: Any, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    asked: list[float] = []
    real = store.due_schedules

    async def due_schedules(now: float, limit: int = 1000) -> Any:
        asked.append(now)
        return await real(now, limit)

    monkeypatch.setattr(store, "due_schedules", due_schedules)
    return asked


async def test_a_tick_from_the_heap_reads_no_schedule(
    setup: tuple[MemoryStore, Engine],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, engine = setup
    clock = Scheduler(store, engine)
    asked = counting_reads(store, monkeypatch)
    assert await clock.tick(T0 - 1) == []  # loads the next two minutes
    assert asked == [T0 - 1 + WINDOW_S] and clock.near.loaded
    [run_id] = await clock.tick(T0 + 0.5)
    await engine.wait(run_id)
    assert len(asked) == 1  # the fire came from memory
    [second] = await clock.tick(T0 + 60.5)  # its next fire was put back by the first
    await engine.wait(second)
    # Half the window gone: reloaded before that tick (as the loop does after one); neither
    # tick read the due schedules itself (that read would ask for its own time).
    assert asked == [T0 - 1 + WINDOW_S, T0 + 60.5 + WINDOW_S]
    record = await store.get_schedule("nightly:0")
    assert record is not None and record.last_run_id == second
    assert clock.near.soonest() == record.due_at == T0 + 120  # as the store says


async def test_a_pause_after_the_load_holds(
    setup: tuple[MemoryStore, Engine],  # noqa: F811
) -> None:
    store, engine = setup
    clock = Scheduler(store, engine)
    await clock.tick(T0 - 1)
    await set_paused(store, "nightly", True, "alice")  # the store's token moves
    assert await clock.tick(T0 + 0.5) == []
    await set_paused(store, "nightly", False, "alice")
    assert len(await clock.tick(T0 + 1)) == 1


async def test_a_fire_lost_to_another_writer_drops_the_heap(
    setup: tuple[MemoryStore, Engine],  # noqa: F811
) -> None:
    store, engine = setup
    clock = Scheduler(store, engine)
    await clock.tick(T0 - 1)
    token = await store.schedules_token()
    # Another clock fires it first without moving this one's token (as another process's
    # tick would, seen here only through the revision guard).
    [record] = await store.due_schedules(T0 + 1)
    fields = {"next_fire_at": T0 + 60, "due_at": T0 + 60}
    await store.update_schedules([(ScheduleUpdate(record.id, record.revision, fields), None)])
    assert await store.schedules_token() == token
    assert await clock.tick(T0 + 0.5) == []  # its write lost the guard: nothing fired
    assert not clock.near.loaded  # and the next tick reads the store again


async def test_sqlite_token_moves_with_other_processes_not_with_own_fires(
    tmp_path: Path,
) -> None:
    store = SqliteStore(f"sqlite:///{tmp_path}/b.db")
    await store.open()
    engine = Engine(store, Settings(home=tmp_path, shutdown_grace_s=0.0), workdir=tmp_path)
    await engine.start()
    try:
        await apply_workflow(store, load_workflow(SPEC, "nightly.yaml"))
        clock = Scheduler(store, engine)
        assert await clock.refill(T0) is True
        before = await store.schedules_token()
        assert await clock.refill(T0) is False  # still answers
        [record] = await store.list_schedules()
        [run_id] = await clock.tick(record.due_at or 0.0)  # a fire of its own
        await engine.wait(run_id)
        assert await store.schedules_token() == before
        other = sqlite3.connect(tmp_path / "b.db")  # another process, as `basir` CLI would be
        with other:
            other.execute("UPDATE schedules SET paused = 1")
        other.close()
        assert await store.schedules_token() != before
        assert await clock.tick((record.due_at or 0.0) + 3600) == []  # paused elsewhere
    finally:
        await engine.stop(0.0)
        await store.close()


async def test_a_previous_run_found_succeeded_at_the_load_is_not_read_again(
    setup: tuple[MemoryStore, Engine],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, engine = setup
    clock = Scheduler(store, engine)
    [run_id] = await clock.tick(T0 + 0.5)
    await engine.wait(run_id)
    read: list[list[str]] = []
    real = store.run_statuses

    async def run_statuses(run_ids: list[str]) -> dict[str, str]:
        read.append(list(run_ids))
        return await real(run_ids)

    monkeypatch.setattr(store, "run_statuses", run_statuses)
    clock.near.forget()
    assert await clock.refill(T0 + 1)
    assert read == [[run_id]]  # read with the schedule, ahead of its fire
    [second] = await clock.tick(T0 + 60.5)
    await engine.wait(second)
    assert read == [[run_id]]  # succeeded: a finished run stays finished
