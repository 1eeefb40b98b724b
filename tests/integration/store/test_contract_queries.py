"""The store contract, reads: events, run listings and key-value documents.

Like `test_contract.py`, every test runs against MemoryStore, SqliteStore and PostgresStore.
"""

from __future__ import annotations

import json

import pytest
from contract_data import event, insert_run, make_run

from basir.store.base import Store
from basir.store.records import Batch, EventRecord, RunInsert

# --- events -------------------------------------------------------------------------------


async def test_events_order_filters_and_after(store: Store) -> None:
    await insert_run(store)  # event 1
    await store.write(
        Batch(
            [],
            [
                event("task.queued", "r1/a", workflow="ci", task_id="a", data={"n": 1}),
                event("task.queued", "r2/a", run_id="r2", workflow="app"),
                event("run.started", workflow="ci", time=2.25),
            ],
        )
    )
    written = await store.write(Batch([], [event("alert.firing", "cpu", run_id=None)]))
    assert [e.id for e in written] == [5]
    every = await store.list_events()
    assert [e.id for e in every] == [1, 2, 3, 4, 5]
    assert every[1] == EventRecord(
        "task.queued", "r1/a", 1.5, {"n": 1}, run_id="r1", workflow="ci", task_id="a", id=2
    )
    assert [e.id for e in await store.list_events(after=2)] == [3, 4, 5]
    assert [e.id for e in await store.list_events(after=1, limit=2)] == [2, 3]
    assert [e.id for e in await store.list_events(run_id="r1")] == [1, 2, 4]
    assert [e.id for e in await store.list_events(workflow="ci")] == [2, 4]
    assert [e.id for e in await store.list_events(types=("task.queued",))] == [2, 3]
    both = await store.list_events(types=("run.created", "alert.firing"), after=0)
    assert [e.id for e in both] == [1, 5]
    assert [e.id for e in await store.list_events(run_id="r1", types=("run.started",))] == [4]
    assert await store.list_events(after=5) == []
    assert await store.last_event_id() == 5
    assert every[3].to_cloudevent()["time"] == "1970-01-01T00:00:02.250000Z"


async def test_event_lines_are_the_cloudevents_as_json(store: Store) -> None:
    await insert_run(store)
    await store.write(
        Batch(
            [],
            [
                event("task.queued", "r1/a", workflow="ci", task_id="a", data={"msg": "مرحبا"}),
                event("run.started", workflow="ci", time=2.25),
                event("task.queued", "r2/a", run_id="r2", workflow="app"),
            ],
        )
    )
    lines = await store.list_event_lines(after=1, limit=2)
    events = await store.list_events(after=1, limit=2)
    assert [(i, t) for i, t, _line in lines] == [(e.id, e.time) for e in events]
    assert [json.loads(line) for _i, _t, line in lines] == [e.to_cloudevent() for e in events]
    assert all("\n" not in line for _i, _t, line in lines)
    only_ci = await store.list_event_lines(workflow="ci")
    assert [i for i, _t, _line in only_ci] == [e.id for e in await store.list_events(workflow="ci")]


async def test_event_rows_are_the_stored_columns_for_exports(store: Store) -> None:
    await insert_run(store)
    await store.write(
        Batch(
            [],
            [
                event("task.queued", "r1/a", workflow="ci", task_id="a", data={"msg": "مرحبا"}),
                event("run.started", workflow="ci", time=2.25),
                event("task.queued", "r2/a", run_id="r2", workflow="app"),
            ],
        )
    )
    rows = await store.list_event_rows(after=1, limit=2)
    events = await store.list_events(after=1, limit=2)
    assert [(i, t, ty, sub) for i, t, ty, sub, _data in rows] == [
        (e.id, e.time, e.type, e.subject) for e in events
    ]
    assert [json.loads(data) for *_head, data in rows] == [e.data for e in events]
    only_ci = await store.list_event_rows(workflow="ci")
    assert [row[0] for row in only_ci] == [e.id for e in await store.list_events(workflow="ci")]


async def test_empty_store_and_empty_batch(store: Store) -> None:
    assert await store.last_event_id() == 0
    assert await store.write(Batch()) == []
    assert (await store.list_runs()).items == []
    assert await store.ping()


# --- listing ------------------------------------------------------------------------------


async def test_list_runs_filters_and_pages_newest_first(store: Store) -> None:
    runs = [
        make_run(
            f"r{i:02d}",
            created_at=float(100 + i // 3),  # three runs share every timestamp
            status="succeeded" if i % 2 else "running",
            workflow="app" if i % 5 == 0 else "ci",
        )
        for i in range(23)
    ]
    await store.write(Batch([RunInsert(r, []) for r in runs]))
    expected = sorted(runs, key=lambda r: (r.created_at, r.id), reverse=True)

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = await store.list_runs(limit=5, cursor=cursor)
        seen += [r.id for r in page.items]
        pages += 1
        cursor = page.next
        if cursor is None:
            break
    assert seen == [r.id for r in expected]
    assert pages == 5

    page = await store.list_runs(status="running", workflow="ci", limit=100)
    assert [r.id for r in page.items] == [
        r.id for r in expected if r.status == "running" and r.workflow == "ci"
    ]
    assert page.next is None
    first = await store.list_runs(workflow="app", limit=2)
    rest = await store.list_runs(workflow="app", limit=2, cursor=first.next)
    assert [r.id for r in first.items + rest.items] == ["r20", "r15", "r10", "r05"]
    assert (await store.list_runs(limit=23)).next is None
    with pytest.raises(ValueError, match="cursor"):
        await store.list_runs(cursor="not-a-cursor")


async def test_active_runs(store: Store) -> None:
    for i, status in enumerate(["queued", "running", "paused", "succeeded", "failed"]):
        await store.write(
            Batch([RunInsert(make_run(f"r{i}", status=status, created_at=9 - i), [])])
        )
    assert [r.id for r in await store.active_runs()] == ["r2", "r1", "r0"]


# --- key-value ----------------------------------------------------------------------------


async def test_kv(store: Store) -> None:
    assert await store.kv_get("decision", "d1") is None
    assert await store.kv_put("decision", "d1", {"run_id": "r1", "نص": "ok"})
    assert not await store.kv_put("decision", "d1", {"run_id": "r2"}, only_if_absent=True)
    assert await store.kv_get("decision", "d1") == {"run_id": "r1", "نص": "ok"}
    assert await store.kv_put("decision", "d1", {"run_id": "r3"})
    assert await store.kv_get("decision", "d1") == {"run_id": "r3"}
    assert await store.kv_put("decision", "d0", {}, only_if_absent=True)
    await store.kv_put("user", "admin", {"role": "admin"})
    assert await store.kv_list("decision") == [("d0", {}), ("d1", {"run_id": "r3"})]
    assert await store.kv_list("decision", limit=1) == [("d0", {})]
    assert await store.kv_list("nothing") == []
    assert await store.kv_delete("decision", "d0")
    assert not await store.kv_delete("decision", "d0")
    assert not await store.kv_delete("decision", "admin")  # another kind's key
    assert await store.kv_list("decision") == [("d1", {"run_id": "r3"})]
    assert await store.kv_get("user", "admin") == {"role": "admin"}
