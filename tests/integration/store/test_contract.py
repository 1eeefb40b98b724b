"""The store contract: every test runs against MemoryStore, SqliteStore and PostgresStore."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from contract_data import SPEC, event, insert_run, make_run, make_tasks, move, statuses

from basir.store.base import ConflictError, NotFoundError, Store, StoreError
from basir.store.records import (
    Batch,
    EventRecord,
    RunInsert,
    RunUpdate,
    TaskInsert,
    TaskRecord,
    TaskUpdate,
)

StoreFactory = Callable[[], Awaitable[Store]]

# --- workflows ----------------------------------------------------------------------------


async def test_workflow_versions_only_when_hash_changes(store: Store) -> None:
    v1, created = await store.put_workflow("ci", "mobile", SPEC, "h1", "admin")
    assert (v1.version, created, v1.spec, v1.namespace, v1.created_by) == (
        1,
        True,
        SPEC,
        "mobile",
        "admin",
    )
    again, created = await store.put_workflow("ci", "mobile", SPEC, "h1", "bob")
    assert (again.version, created, again.created_by) == (1, False, "admin")
    v2, created = await store.put_workflow("ci", "mobile", {**SPEC, "x": 1}, "h2", None)
    assert (v2.version, created) == (2, True)
    await store.put_workflow("app", "default", {"name": "app"}, "h9", None)

    latest = await store.get_workflow("ci")
    assert latest is not None and (latest.version, latest.spec_hash) == (2, "h2")
    first = await store.get_workflow("ci", 1)
    assert first is not None and first.spec == SPEC and first.created_at == v1.created_at
    assert await store.get_workflow("ci", 3) is None
    assert await store.get_workflow("nope") is None
    assert [(w.name, w.version) for w in await store.list_workflows()] == [("app", 1), ("ci", 2)]
    assert [w.version for w in await store.list_workflow_versions("ci")] == [1, 2]
    assert await store.list_workflow_versions("nope") == []


async def test_concurrent_put_workflow_numbers_versions_once(store: Store) -> None:
    results = await asyncio.gather(
        *(store.put_workflow("ci", "default", {"n": i}, f"h{i}", None) for i in range(10))
    )
    assert sorted(wv.version for wv, _ in results) == list(range(1, 11))


# --- runs and tasks -----------------------------------------------------------------------


async def test_run_insert_round_trips_every_field(store: Store) -> None:
    run = make_run(
        params={"branch": "main", "نص": [1, 2.5, None]},
        priority=80,
        deadline_at=1234.5,
        concurrency=4,
        started_at=101.25,
        trigger="cron",
        created_by="admin",
        error="boom",
        namespace="mobile",
    )
    task = TaskRecord(
        "r1",
        "build",
        "pending",
        attempts=2,
        outputs={"apk": "a.apk"},
        error="e",
        queued_at=1.0,
        next_attempt_at=3.5,
        attempt_id="att-1",
        parent_id="p",
        item_index=3,
        item={"sdk": "3.22"},
        spec={"run": "flutter build"},
        held=True,
        hold_until=9.0,
        updated_at=2.0,
        attempt_pgid=4321,
        attempt_proc_start=2**40 + 7,  # clock ticks since boot: past 32 bits on a long uptime
    )
    await store.write(Batch([RunInsert(run, [task])]))
    assert await store.get_run("r1") == run
    assert await store.get_tasks("r1") == [task]
    assert await store.get_run("missing") is None
    assert await store.get_tasks("missing") == []


async def test_tasks_keep_insertion_order(store: Store) -> None:
    await insert_run(store, "r1", "zeta", "alpha", "mid")
    await store.write(
        Batch([TaskInsert(TaskRecord("r1", f"fan[{i}]", "pending", item=i)) for i in (0, 1)])
    )
    await store.write(Batch([TaskInsert(TaskRecord("r1", "aaa", "pending"))]))
    order = [t.task_id for t in await store.get_tasks("r1")]
    assert order == ["zeta", "alpha", "mid", "fan[0]", "fan[1]", "aaa"]


async def test_guarded_updates_apply_in_order(store: Store) -> None:
    await insert_run(store)
    written = await store.write(
        Batch(
            [
                move("r1", "a", "queued", "pending"),
                move("r1", "a", "running", "queued", attempts=1, started_at=5.0),
                move("r1", "b", "skipped"),  # unguarded
                TaskUpdate("r1", "c", {}, ("pending",)),  # a guard that changes nothing
                RunUpdate("r1", {"status": "running", "started_at": 5.0}, ("queued",)),
            ],
            [event("task.running"), event("run.started")],
        )
    )
    assert [e.type for e in written] == ["task.running", "run.started"]
    assert await statuses(store) == {"a": "running", "b": "skipped", "c": "pending"}
    task_a = (await store.get_tasks("r1"))[0]
    assert (task_a.attempts, task_a.started_at) == (1, 5.0)
    run = await store.get_run("r1")
    assert run is not None and (run.status, run.started_at) == ("running", 5.0)


async def test_updates_of_json_and_flag_fields(store: Store) -> None:
    await insert_run(store)
    await store.write(
        Batch(
            [
                TaskUpdate("r1", "a", {"outputs": {"k": "قيمة"}, "held": True, "item": [1, "x"]}),
                TaskUpdate("r1", "b", {"spec": {"run": "x"}, "error": "bad"}),
                RunUpdate("r1", {"params": {"p": 1}, "error": None}),
            ]
        )
    )
    a, b, _ = await store.get_tasks("r1")
    assert (a.outputs, a.held, a.item, b.spec, b.error) == (
        {"k": "قيمة"},
        True,
        [1, "x"],
        {"run": "x"},
        "bad",
    )
    await store.write(Batch([TaskUpdate("r1", "a", {"item": None, "held": False})]))
    a = (await store.get_tasks("r1"))[0]
    assert (a.item, a.held) == (None, False)
    run = await store.get_run("r1")
    assert run is not None and run.params == {"p": 1}


async def test_attempt_process_is_recorded_and_cleared_under_its_guard(store: Store) -> None:
    await insert_run(store)
    await store.write(Batch([move("r1", "a", "running", "pending", attempts=1)]))
    spawned = {"attempt_pgid": 777, "attempt_proc_start": 123_456_789_012}
    await store.write(Batch([TaskUpdate("r1", "a", spawned, ("running",))]))
    a, b, _ = await store.get_tasks("r1")
    assert (a.status, a.attempt_pgid, a.attempt_proc_start) == ("running", 777, 123_456_789_012)
    assert (b.attempt_pgid, b.attempt_proc_start) == (None, None)
    # The record of a task no longer running is a lost race, not a write.
    with pytest.raises(ConflictError):
        await store.write(Batch([TaskUpdate("r1", "b", spawned, ("running",))]))
    cleared = {"attempt_pgid": None, "attempt_proc_start": None}
    await store.write(Batch([move("r1", "a", "queued", "running", **cleared)]))
    a = (await store.get_tasks("r1"))[0]
    assert (a.status, a.attempt_pgid, a.attempt_proc_start) == ("queued", None, None)


async def test_conflict_rolls_back_the_whole_batch(store: Store) -> None:
    await insert_run(store)
    before_runs = await store.get_run("r1")
    before_id = await store.last_event_id()
    batch = Batch(
        [
            move("r1", "a", "queued", "pending"),
            RunUpdate("r1", {"status": "running"}, ("queued",)),
            TaskInsert(TaskRecord("r1", "new", "pending")),
            RunInsert(make_run("r2"), make_tasks("r2", "x")),
            move("r1", "b", "queued", "pending"),
            move("r1", "c", "succeeded", "running"),  # c is pending: lost race
        ],
        [event("task.queued"), event("run.started")],
    )
    with pytest.raises(ConflictError, match=r"r1/c.*pending"):
        await store.write(batch)
    assert await statuses(store) == {"a": "pending", "b": "pending", "c": "pending"}
    assert await store.get_run("r1") == before_runs
    assert await store.get_run("r2") is None
    assert await store.last_event_id() == before_id
    assert [e.type for e in await store.list_events()] == ["run.created"]
    # The same batch without the losing change goes through whole.
    batch.changes.pop()
    assert len(await store.write(batch)) == 2


async def test_conflict_in_a_run_of_same_shaped_updates_names_the_row(store: Store) -> None:
    await insert_run(store, "r1", *(f"t{i}" for i in range(10)))
    await store.write(Batch([move("r1", "t6", "queued", "pending")]))
    with pytest.raises(ConflictError, match=r"r1/t6 is 'queued'"):
        await store.write(Batch([move("r1", f"t{i}", "queued", "pending") for i in range(10)]))
    assert list((await statuses(store)).values()).count("queued") == 1


async def test_not_found(store: Store) -> None:
    await insert_run(store)
    with pytest.raises(NotFoundError, match="r1/zz"):
        await store.write(Batch([move("r1", "a", "queued"), move("r1", "zz", "queued")]))
    with pytest.raises(NotFoundError, match="run nope"):
        await store.write(Batch([RunUpdate("nope", {"status": "running"}, ("queued",))]))
    with pytest.raises(NotFoundError, match="run nope"):
        await store.write(Batch([TaskInsert(TaskRecord("nope", "a", "pending"))]))
    with pytest.raises(NotFoundError):
        await store.write(Batch([TaskUpdate("r1", "zz", {}, ("pending",))]))
    assert await statuses(store) == {"a": "pending", "b": "pending", "c": "pending"}


async def test_duplicate_inserts_conflict(store: Store) -> None:
    await insert_run(store)
    with pytest.raises(ConflictError, match="run r1 already exists"):
        await store.write(Batch([RunInsert(make_run("r1"), [])]))
    with pytest.raises(ConflictError, match="task r1/a already exists"):
        await store.write(Batch([TaskInsert(TaskRecord("r1", "a", "pending"))]))
    with pytest.raises(ConflictError, match="task r2/x already exists"):
        await store.write(Batch([RunInsert(make_run("r2"), make_tasks("r2", "x", "y", "x"))]))
    assert await store.get_run("r2") is None


async def test_unknown_update_field_is_a_bug_not_a_race(store: Store) -> None:
    await insert_run(store)
    with pytest.raises(ValueError, match="task_id"):
        await store.write(Batch([TaskUpdate("r1", "a", {"task_id": "b"})]))
    with pytest.raises(ValueError, match="colour"):
        await store.write(Batch([RunUpdate("r1", {"colour": "red"})]))


async def test_records_handed_out_are_copies(store: Store) -> None:
    await insert_run(store)
    run = await store.get_run("r1")
    assert run is not None
    run.params["x"] = 1
    (await store.get_tasks("r1"))[0].outputs["y"] = 2
    again = await store.get_run("r1")
    assert again is not None and again.params == {}
    assert (await store.get_tasks("r1"))[0].outputs == {}


# --- concurrency and lifecycle ------------------------------------------------------------


async def test_concurrent_writes_all_land_with_unique_increasing_ids(store: Store) -> None:
    await insert_run(store, "r1", *(f"t{i}" for i in range(200)))

    async def finish(i: int) -> list[EventRecord]:
        events = [event("task.succeeded", f"r1/t{i}", task_id=f"t{i}")]
        if i % 3 == 0:
            events.append(event("task.note", f"r1/t{i}", task_id=f"t{i}"))
        return await store.write(Batch([move("r1", f"t{i}", "succeeded", "pending")], events))

    results = await asyncio.gather(*(finish(i) for i in range(200)))
    ids = [e.id for written in results for e in written]
    assert len(ids) == len(set(ids)) == 200 + 67
    for written in results:
        assert [e.id for e in written] == sorted(e.id for e in written)
        assert written[0].task_id == written[-1].task_id
    assert set((await statuses(store)).values()) == {"succeeded"}
    stored = await store.list_events(after=1, limit=1000)
    assert [e.id for e in stored] == sorted(ids)
    by_id = {e.id: e.task_id for written in results for e in written}
    assert all(by_id[e.id] == e.task_id for e in stored)


async def test_concurrent_guarded_updates_exactly_one_wins(store: Store) -> None:
    await insert_run(store, "r1", "a")
    claims = [
        store.write(Batch([move("r1", "a", "running", "pending", attempt_id=f"w{i}")]))
        for i in range(50)
    ]
    results = await asyncio.gather(*claims, return_exceptions=True)
    assert sum(r == [] for r in results) == 1
    assert all(isinstance(r, ConflictError) for r in results if r != [])


async def test_close_flushes_queued_writes(make_store: StoreFactory, store_url: str) -> None:
    store = await make_store()
    await insert_run(store, "r1", *(f"t{i}" for i in range(100)))
    pending = [
        asyncio.ensure_future(
            store.write(Batch([move("r1", f"t{i}", "queued", "pending")], [event("task.queued")]))
        )
        for i in range(100)
    ]
    await asyncio.sleep(0)  # every write has started (and is queued where there is a queue)
    await store.close()
    assert all(len(w) == 1 for w in await asyncio.gather(*pending))
    with pytest.raises(StoreError):
        await store.write(Batch([], [event("late")]))
    if not store_url.startswith("memory://"):
        reopened = await make_store()
        assert set((await statuses(reopened)).values()) == {"queued"}
        assert await reopened.last_event_id() == 101


@pytest.mark.parametrize(
    "store_url",
    ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,  # nothing outlives a memory store: only the durable ones are reopened
)
async def test_reopened_store_sees_everything(make_store: StoreFactory, store_url: str) -> None:
    store = await make_store()
    await store.put_workflow("ci", "default", SPEC, "h1", None)
    await insert_run(store, "r1", "a", "b")
    await store.write(Batch([move("r1", "a", "running", "pending")], [event("task.running")]))
    await store.kv_put("user", "admin", {"role": "admin"})
    await store.close()

    reopened = await make_store()
    assert (await reopened.get_workflow("ci")) is not None
    assert await statuses(reopened) == {"a": "running", "b": "pending"}
    assert await reopened.kv_get("user", "admin") == {"role": "admin"}
    assert await reopened.last_event_id() == 2
    written = await reopened.write(Batch([], [event("after.reopen")]))
    assert written[0].id == 3


async def test_batches_larger_than_one_statement_land_whole(store: Store) -> None:
    # 600 rows: several multi-row statements of different sizes in the SQLite writer.
    n = 600
    await insert_run(store, "r1", "fan")
    await store.write(
        Batch(
            [TaskInsert(TaskRecord("r1", f"fan[{i}]", "pending", item={"i": i})) for i in range(n)],
            [event("task.queued", f"r1/fan[{i}]", task_id=f"fan[{i}]") for i in range(n)],
        )
    )
    written = await store.write(
        Batch(
            [move("r1", f"fan[{i}]", "succeeded", "pending", outputs={"v": i}) for i in range(n)],
            [event("task.succeeded", f"r1/fan[{i}]", task_id=f"fan[{i}]") for i in range(n)],
        )
    )
    ids = [e.id for e in written]
    assert ids == list(range(ids[0], ids[0] + n))
    assert [e.task_id for e in written] == [f"fan[{i}]" for i in range(n)]
    tasks = (await store.get_tasks("r1"))[1:]
    assert [t.task_id for t in tasks] == [f"fan[{i}]" for i in range(n)]
    assert [(t.status, t.item, t.outputs) for t in tasks] == [
        ("succeeded", {"i": i}, {"v": i}) for i in range(n)
    ]
    history = await store.list_events(run_id="r1", limit=2 * n + 10)
    assert [(e.id, e.type) for e in history][-n:] == [(i, "task.succeeded") for i in ids]


async def test_same_shaped_updates_of_one_task_apply_one_after_the_other(store: Store) -> None:
    await insert_run(store)
    await store.write(
        Batch(
            [
                move("r1", "a", "queued", "pending"),
                move("r1", "b", "queued", "pending"),
                move("r1", "a", "running", "queued"),
            ]
        )
    )
    assert await statuses(store) == {"a": "running", "b": "queued", "c": "pending"}
    with pytest.raises(ConflictError):
        await store.write(
            Batch([move("r1", "c", "queued", "pending"), move("r1", "c", "running", "pending")])
        )
    assert await statuses(store) == {"a": "running", "b": "queued", "c": "pending"}


async def test_waiting_reason_is_recorded_and_cleared(store: Store) -> None:
    await insert_run(store)
    await store.write(Batch([move("r1", "a", "queued", "pending")]))
    reason = "waiting for gradle: 1/1 in use by run r0 task build"
    await store.write(Batch([TaskUpdate("r1", "a", {"waiting": reason}, ("queued",))]))
    a, b, _ = await store.get_tasks("r1")
    assert (a.status, a.waiting, b.waiting) == ("queued", reason, None)
    await store.write(Batch([move("r1", "a", "running", "queued", waiting=None)]))
    assert (await store.get_tasks("r1"))[0].waiting is None


async def test_many_new_runs_in_one_batch_round_trip_and_a_duplicate_is_named(
    store: Store,
) -> None:
    # 300 runs: several multi-row statements in the SQLite writer; new pending tasks go in
    # its narrow form (defaults as literals), a task with other columns set in the wide one.
    n = 300
    runs = [
        make_run(f"m{i:03d}", trigger="schedule", created_by=f"schedule:w:{i}") for i in range(n)
    ]
    fresh = [TaskRecord(r.id, "a", "pending", updated_at=2.5) for r in runs]
    full = TaskRecord(runs[7].id, "b", "pending", attempts=1, outputs={"x": 1}, preemptions=2)
    inserts = [RunInsert(r, [t]) for r, t in zip(runs, fresh, strict=True)]
    inserts[7] = RunInsert(runs[7], [fresh[7], full])
    await store.write(Batch(list(inserts)))
    for index in (0, 7, 255, 256, n - 1):
        assert await store.get_run(runs[index].id) == runs[index]
    assert await store.get_tasks(runs[0].id) == [fresh[0]]
    assert await store.get_tasks(runs[7].id) == [fresh[7], full]
    assert await store.get_tasks(runs[n - 1].id) == [fresh[n - 1]]
    again = [RunInsert(make_run("m999"), []), RunInsert(make_run("m123"), [])]
    with pytest.raises(ConflictError, match="run m123 already exists"):
        await store.write(Batch(again))
    assert await store.get_run("m999") is None
