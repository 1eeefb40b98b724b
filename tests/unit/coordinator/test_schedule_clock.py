"""The schedule clock on a store and an engine, driven by an injected time (no sleeping)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from basir.config import Settings
from basir.coordinator.schedule_controls import set_paused
from basir.coordinator.schedules import Scheduler
from basir.coordinator.workflows import apply_workflow
from basir.engine.runtime import Engine
from basir.errors import NotFoundError
from basir.spec import load_workflow
from basir.store.memory import MemoryStore
from basir.store.records import Batch, EventRecord, ScheduleUpdate, WorkflowVersion

T0 = 1_800_000_000.0
SPEC = """\
name: nightly
on:
  schedule: [{cron: "* * * * *", timezone: Europe/Berlin}]
tasks:
  - {id: a, uses: noop}
"""


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[MemoryStore, Engine]]:
    store = MemoryStore()
    await store.open()
    engine = Engine(store, Settings(home=tmp_path, shutdown_grace_s=0.0), workdir=tmp_path)
    await engine.start()
    spec = load_workflow(SPEC, "nightly.yaml")
    await apply_workflow(store, spec)
    [record] = await store.list_schedules()
    # Put the clock at a known minute, as if registered just before T0.
    fields = {"next_fire_at": T0, "due_at": T0}
    await store.update_schedule(ScheduleUpdate(record.id, record.revision, fields))
    yield store, engine
    await engine.stop(0.0)
    await store.close()


async def events_of(store: MemoryStore, prefix: str = "schedule.") -> list[EventRecord]:
    return [e for e in await store.list_events(limit=1000) if e.type.startswith(prefix)]


async def test_a_due_schedule_fires_one_run(setup: tuple[MemoryStore, Engine]) -> None:
    store, engine = setup
    clock = Scheduler(store, engine)
    assert await clock.tick(T0 - 1) == []
    [run_id] = await clock.tick(T0 + 0.5)
    finished = await engine.wait(run_id)
    assert (finished.status, finished.trigger, finished.created_by) == (
        "succeeded",
        "schedule",
        "schedule:nightly:0",
    )
    assert await clock.tick(T0 + 0.6) == []  # the clock moved: no second fire
    [fired] = await events_of(store)
    assert fired.type == "schedule.fired" and fired.data["run_id"] == run_id
    assert fired.data["at"] == "2027-01-15T09:00:00+01:00"
    assert finished.logical_time == "2027-01-15T09:00:00+01:00"  # the run knows its fire
    record = await store.get_schedule("nightly:0")
    assert record is not None and record.next_fire_at == T0 + 60 and record.last_run_id == run_id


async def test_crash_between_fire_and_commit_neither_loses_nor_doubles(
    setup: tuple[MemoryStore, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, engine = setup
    real = store.update_schedules

    async def crash(
        items: list[tuple[ScheduleUpdate, Batch | None]],
    ) -> list[BaseException | None]:
        raise OSError("power cut before the commit")

    monkeypatch.setattr(store, "update_schedules", crash)
    with pytest.raises(OSError):
        await Scheduler(store, engine).tick(T0 + 1)
    assert (await store.list_runs()).items == []  # nothing half-written
    monkeypatch.setattr(store, "update_schedules", real)
    # "Restart": a fresh clock fires the fire exactly once.
    restarted = Scheduler(store, engine)
    [run_id] = await restarted.tick(T0 + 2)
    assert await restarted.tick(T0 + 3) == []
    assert [r.id for r in (await store.list_runs()).items] == [run_id]


async def test_two_clocks_on_one_store_fire_once(setup: tuple[MemoryStore, Engine]) -> None:
    store, engine = setup
    first, second = Scheduler(store, engine), Scheduler(store, engine)
    stale = await store.due_schedules(T0 + 1)
    assert len(await first.tick(T0 + 1)) == 1
    # The second read the schedule before the first wrote it: its write loses the race,
    # and nothing of its fire lands.
    assert await second._fire_all(stale, T0 + 1) == []
    assert await second.tick(T0 + 1) == []  # a tick re-reads: nothing left to fire
    assert len((await store.list_runs()).items) == 1


async def test_paused_does_not_fire_and_resume_catches_up(
    setup: tuple[MemoryStore, Engine],
) -> None:
    store, engine = setup
    clock = Scheduler(store, engine)
    await set_paused(store, "nightly", True, "alice")
    assert await clock.tick(T0 + 300) == []
    await set_paused(store, "nightly:0", False, "alice")
    [run_id] = await clock.tick(T0 + 300.5)  # catchup latest: the newest missed fire runs
    await engine.wait(run_id)
    kinds = [(e.type, e.data.get("reason")) for e in await events_of(store)]
    assert kinds[:2] == [("schedule.paused", None), ("schedule.resumed", None)]
    assert kinds[2:] == [("schedule.skipped", "paused")] * 5 + [("schedule.fired", None)]
    with pytest.raises(NotFoundError):
        await set_paused(store, "nope", True)


async def test_overlap_skip_is_an_event(setup: tuple[MemoryStore, Engine]) -> None:
    store, engine = setup
    slow = SPEC.replace("uses: noop}", "uses: sleep, with: {seconds: 60}}")
    await apply_workflow(store, load_workflow(slow, "nightly.yaml"))  # same schedule, same clock
    clock = Scheduler(store, engine)
    [run_id] = await clock.tick(T0 + 1)  # still running at the next fire
    assert await clock.tick(T0 + 61) == []
    skipped = (await events_of(store))[-1]
    assert (skipped.type, skipped.data["reason"]) == ("schedule.skipped", "overlap")
    await engine.cancel_run(run_id)


async def test_apply_changes_and_removes_schedules(setup: tuple[MemoryStore, Engine]) -> None:
    store, _engine = setup
    changed = SPEC.replace('"* * * * *"', '"@daily"')
    await apply_workflow(store, load_workflow(changed, "nightly.yaml"))
    [record] = await store.list_schedules()
    assert record.cron == "@daily"
    await apply_workflow(
        store, load_workflow(SPEC.split("on:", maxsplit=1)[0] + SPEC.split("]\n")[1], "n.yaml")
    )
    assert await store.list_schedules() == []


async def test_resync_moves_a_stale_future_fire(setup: tuple[MemoryStore, Engine]) -> None:
    store, engine = setup
    [record] = await store.list_schedules()
    # As if computed under an offset one hour off (a tzdata update since).
    stale = {"next_fire_at": T0 + 3600, "due_at": T0 + 3600}
    await store.update_schedule(ScheduleUpdate(record.id, record.revision, stale))
    clock = Scheduler(store, engine)
    assert await clock.resync(T0 - 30) == 1
    fixed = await store.get_schedule(record.id)
    assert fixed is not None and fixed.next_fire_at == T0
    assert await clock.resync(T0 - 30) == 0  # nothing left to move


async def test_a_schedule_removed_mid_tick_is_skipped(setup: tuple[MemoryStore, Engine]) -> None:
    store, engine = setup
    clock = Scheduler(store, engine)
    [stale] = await store.due_schedules(T0 + 1)
    await store.sync_schedules("nightly", [])  # re-applied without on.schedule meanwhile
    assert await clock._fire_all([stale], T0 + 1) == []
    assert (await store.list_runs()).items == []


async def test_one_tick_on_sqlite_fires_many_and_a_pause_mid_tick_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sixty schedules due at once are fired in one tick on the embedded store; the one paused
    between the tick's read and its write fires nothing, and the others are not held back."""
    from basir.store.sqlite import SqliteStore

    store = SqliteStore(f"sqlite:///{tmp_path / 'basir.db'}")
    await store.open()
    engine = Engine(store, Settings(home=tmp_path, shutdown_grace_s=0.0), workdir=tmp_path)
    await engine.start()
    entries = ", ".join('{cron: "* * * * *"}' for _ in range(60))
    wide = f"name: wide\non:\n  schedule: [{entries}]\ntasks:\n  - {{id: a, uses: noop}}\n"
    await apply_workflow(store, load_workflow(wide, "wide.yaml"))
    due_at = (await store.list_schedules())[0].due_at
    assert due_at is not None
    real = store.get_workflow

    async def pause_meanwhile(name: str, version: int | None = None) -> WorkflowVersion | None:
        await set_paused(store, "wide:7", True, "alice")  # another process, say
        return await real(name, version)

    monkeypatch.setattr(store, "get_workflow", pause_meanwhile)  # read after the due ones
    try:
        clock = Scheduler(store, engine)
        started = await clock.tick(due_at + 0.5)
        assert len(started) == 59 and len(set(started)) == 59
        by_schedule = {r.id: r for r in await store.list_schedules("wide")}
        assert by_schedule["wide:7"].last_run_id is None and by_schedule["wide:7"].paused
        assert by_schedule["wide:7"].due_at == due_at  # its clock did not move
        assert {by_schedule[f"wide:{i}"].last_run_id for i in range(60) if i != 7} == set(started)
        fired = [e for e in await store.list_events(limit=1000) if e.type == "schedule.fired"]
        assert len(fired) == 59 and "wide:7" not in {e.data["schedule"] for e in fired}
        at = {e.data["run_id"]: e.data["at"] for e in fired}
        for run_id in started:
            finished = await engine.wait(run_id)
            assert finished.status == "succeeded"
            stored = await store.get_run(run_id)  # read back through the SQLite columns
            assert stored is not None and stored.logical_time == at[run_id] == finished.logical_time
        assert await clock.tick(due_at + 1) == []  # nothing fires twice
    finally:
        await engine.stop(0.0)
        await store.close()


def test_run_ids_of_a_tick_have_the_engines_shape_and_never_repeat() -> None:
    from basir.coordinator.fire_parts import RunIds as _RunIds
    from basir.engine.runtime import new_run_id

    make = _RunIds()
    ids = [make() for _ in range(3 * _RunIds.POOL + 7)]  # past several pool refills
    assert len(set(ids)) == len(ids)
    shape = new_run_id()
    for run_id in ids:
        assert len(run_id) == len(shape) and int(run_id, 16) >= 0
        assert abs(int(run_id[:11], 16) - int(shape[:11], 16)) < 60_000  # ms, as the engine's


async def test_the_collector_is_held_only_while_a_tick_writes(
    setup: tuple[MemoryStore, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    store, engine = setup
    real = store.update_schedules
    seen: list[bool] = []

    async def watched(
        items: list[tuple[ScheduleUpdate, Batch | None]],
    ) -> list[BaseException | None]:
        seen.append(gc.isenabled())
        if len(seen) == 1:
            raise OSError("power cut before the commit")
        return await real(items)

    monkeypatch.setattr(store, "update_schedules", watched)
    assert gc.isenabled()
    with pytest.raises(OSError):
        await Scheduler(store, engine).tick(T0 + 1)
    assert gc.isenabled()  # back on after a failed write
    [_run_id] = await Scheduler(store, engine).tick(T0 + 2)
    assert seen == [False, False] and gc.isenabled()
    gc.disable()  # held by someone else: a tick leaves it so
    try:
        await Scheduler(store, engine).tick(T0 + 200)
        assert not gc.isenabled()
    finally:
        gc.enable()
