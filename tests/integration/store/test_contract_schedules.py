"""The store contract for schedules: memory, SQLite and PostgreSQL behave the same."""

from __future__ import annotations

from typing import Any

import pytest
from contract_data import event, make_run, make_tasks

from basir.store.base import ConflictError, NotFoundError, Store
from basir.store.records import Batch, RunInsert, ScheduleRecord, ScheduleUpdate


def entry(workflow: str = "ci", position: int = 0, **kw: Any) -> ScheduleRecord:
    return ScheduleRecord(
        id=f"{workflow}:{position}",
        workflow=workflow,
        position=position,
        cron=kw.pop("cron", "0 2 * * *"),
        timezone=kw.pop("timezone", "Asia/Riyadh"),
        options=kw.pop("options", {"cron": "0 2 * * *", "overlap": "skip"}),
        spec_hash=kw.pop("spec_hash", "h1"),
        next_fire_at=kw.pop("next_fire_at", 1000.0),
        due_at=kw.pop("due_at", 1000.0),
        created_at=10.0,
        updated_at=10.0,
        **kw,
    )


async def test_sync_registers_changes_and_removes(store: Store) -> None:
    await store.sync_schedules("ci", [entry(), entry(position=1, spec_hash="h2")])
    await store.sync_schedules("app", [entry("app")])
    listed = await store.list_schedules()
    assert [(s.id, s.cron, s.paused, s.queued, s.revision) for s in listed] == [
        ("app:0", "0 2 * * *", False, [], 0),
        ("ci:0", "0 2 * * *", False, [], 0),
        ("ci:1", "0 2 * * *", False, [], 0),
    ]
    assert listed[1].options == {"cron": "0 2 * * *", "overlap": "skip"}
    first = listed[1]
    await store.update_schedule(ScheduleUpdate("ci:0", 0, {"paused": True, "paused_at": 5.0}))

    # Unchanged definition: the clock and the pause stay; a changed one takes the new clock.
    await store.sync_schedules(
        "ci", [entry(next_fire_at=5000.0), entry(position=1, spec_hash="h3", cron="@daily")]
    )
    again = {s.id: s for s in await store.list_schedules("ci")}
    assert (again["ci:0"].next_fire_at, again["ci:0"].paused) == (first.next_fire_at, True)
    assert (again["ci:1"].cron, again["ci:1"].revision) == ("@daily", 1)

    await store.sync_schedules("ci", [entry()])
    assert [s.id for s in await store.list_schedules("ci")] == ["ci:0"]
    assert await store.get_schedule("ci:1") is None
    await store.sync_schedules("ci", [])
    assert [s.id for s in await store.list_schedules()] == ["app:0"]


async def test_due_and_next_due_skip_paused(store: Store) -> None:
    await store.sync_schedules(
        "ci",
        [
            entry(due_at=100.0),
            entry(position=1, due_at=50.0),
            entry(position=2, due_at=300.0, spec_hash="x"),
        ],
    )
    assert [s.id for s in await store.due_schedules(200.0)] == ["ci:1", "ci:0"]
    assert [s.id for s in await store.due_schedules(200.0, limit=1)] == ["ci:1"]
    assert await store.next_due_at() == 50.0
    await store.update_schedule(ScheduleUpdate("ci:1", 0, {"paused": True}))
    assert [s.id for s in await store.due_schedules(200.0)] == ["ci:0"]
    assert await store.next_due_at() == 100.0
    # Queued fires make a schedule due whatever its clock says.
    await store.update_schedule(ScheduleUpdate("ci:2", 0, {"queued": [250.0]}))
    assert [s.id for s in await store.due_schedules(200.0)] == ["ci:0", "ci:2"]
    assert (await store.due_schedules(200.0))[1].queued == [250.0]


async def test_a_fire_writes_its_run_with_the_clock_or_nothing(store: Store) -> None:
    await store.sync_schedules("ci", [entry()])
    run = make_run("r1", trigger="schedule")
    batch = Batch([RunInsert(run, make_tasks("r1", "a"))], [event("schedule.fired")])
    fields = {"next_fire_at": 2000.0, "due_at": 2000.0, "last_fire_at": 1000.0, "last_run_id": "r1"}
    written = await store.update_schedule(ScheduleUpdate("ci:0", 0, fields), batch)
    assert [e.type for e in written] == ["schedule.fired"] and written[0].id > 0
    stored = await store.get_schedule("ci:0")
    assert stored is not None
    assert (stored.next_fire_at, stored.last_run_id, stored.revision) == (2000.0, "r1", 1)
    assert (await store.get_run("r1")) is not None

    # A second firer that read revision 0 loses: neither its clock nor its run lands.
    run2 = make_run("r2", trigger="schedule")
    batch2 = Batch([RunInsert(run2, make_tasks("r2", "a"))], [event("schedule.fired")])
    with pytest.raises(ConflictError):
        await store.update_schedule(ScheduleUpdate("ci:0", 0, fields), batch2)
    assert await store.get_run("r2") is None
    assert (await store.get_schedule("ci:0")).revision == 1  # type: ignore[union-attr]
    assert [e.type for e in await store.list_events()] == ["schedule.fired"]

    # A batch that fails (a duplicate run) leaves the clock where it was.
    dup = Batch([RunInsert(make_run("r1"), make_tasks("r1", "a"))], [])
    with pytest.raises(ConflictError):
        await store.update_schedule(ScheduleUpdate("ci:0", 1, {"next_fire_at": 9.0}), dup)
    assert (await store.get_schedule("ci:0")).next_fire_at == 2000.0  # type: ignore[union-attr]

    with pytest.raises(NotFoundError):
        await store.update_schedule(ScheduleUpdate("nope:0", 0, {"paused": True}))
    with pytest.raises(ValueError, match="not updatable"):
        await store.update_schedule(ScheduleUpdate("ci:0", 1, {"cron": "x"}))


async def test_a_one_off_is_added_and_survives_sync(store: Store) -> None:
    await store.sync_schedules("ci", [entry()])
    once = entry(position=-1, spec_hash="once")
    once.id = "ci:at:abc"
    await store.add_schedule(once)
    with pytest.raises(ConflictError):
        await store.add_schedule(once)
    await store.sync_schedules("ci", [])  # the workflow's on.schedule emptied
    assert [s.id for s in await store.list_schedules("ci")] == ["ci:at:abc"]


async def test_a_tick_writes_many_fires_each_with_its_clock_or_nothing(store: Store) -> None:
    await store.sync_schedules("ci", [entry(position=p) for p in range(3)])
    await store.write(Batch([RunInsert(make_run("taken"), make_tasks("taken", "a"))], []))

    def fire(position: int, run_id: str, revision: int = 0) -> tuple[ScheduleUpdate, Batch]:
        fields = {"next_fire_at": 2000.0, "due_at": 2000.0, "last_run_id": run_id}
        batch = Batch(
            [RunInsert(make_run(run_id, trigger="schedule"), make_tasks(run_id, "a"))],
            [event("schedule.fired", run_id=run_id)],
        )
        return ScheduleUpdate(f"ci:{position}", revision, fields), batch

    # ci:1 was read at a revision it no longer has; ci:2's run id is taken.
    await store.update_schedule(ScheduleUpdate("ci:1", 0, {"paused": True}))
    outcome = await store.update_schedules([fire(0, "r0"), fire(1, "r1"), fire(2, "taken")])
    assert outcome[0] is None
    assert isinstance(outcome[1], ConflictError) and outcome[2] is not None
    clocks = {s.id: (s.next_fire_at, s.last_run_id) for s in await store.list_schedules("ci")}
    assert clocks == {"ci:0": (2000.0, "r0"), "ci:1": (1000.0, None), "ci:2": (1000.0, None)}
    assert await store.get_run("r0") is not None and await store.get_run("r1") is None
    assert [e.run_id for e in await store.list_events()] == ["r0"]
    assert await store.update_schedules([]) == []


async def test_run_statuses_reads_many_runs_at_once(store: Store) -> None:
    ids = [f"r{i}" for i in range(300)]  # more than one statement's worth
    inserts = [RunInsert(make_run(i, status="running"), make_tasks(i, "a")) for i in ids[:260]]
    await store.write(Batch(list(inserts), []))
    found = await store.run_statuses([*ids, "r0"])
    assert found == {i: "running" for i in ids[:260]}
    assert await store.run_statuses([]) == {}


async def test_schedules_token_moves_with_every_schedule_write_but_a_ticks(store: Store) -> None:
    first = await store.schedules_token()
    if first is None:  # PostgreSQL: cannot tell cheaply, so the clock reads at every tick
        return
    await store.sync_schedules("ci", [entry()])
    synced = await store.schedules_token()
    assert synced != first and await store.schedules_token() == synced  # reading moves nothing
    await store.update_schedule(ScheduleUpdate("ci:0", 0, {"paused": True}))
    paused = await store.schedules_token()
    assert paused != synced
    await store.add_schedule(entry(position=-1))
    added = await store.schedules_token()
    assert added != paused
    await store.write(Batch([RunInsert(make_run("r9"), make_tasks("r9", "a"))], []))
    fields = {"next_fire_at": 2000.0, "due_at": 2000.0}
    assert await store.update_schedules([(ScheduleUpdate("ci:-1", 0, fields), None)]) == [None]
    assert await store.schedules_token() == added  # runs and the clock's own fires: not moved
