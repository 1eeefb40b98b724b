"""Backfill: a past window's fires run once each, within their own budget of active runs."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from basir.config import Settings
from basir.coordinator.backfill import request_backfill
from basir.coordinator.schedule_controls import set_paused
from basir.coordinator.schedules import Scheduler
from basir.coordinator.workflows import apply_workflow
from basir.engine.runtime import Engine
from basir.errors import BasirError
from basir.scheduler.schedules import backfill_run_id
from basir.spec import load_workflow
from basir.store.memory import MemoryStore

SPEC = """\
name: hourly
on:
  schedule: [{cron: "0 * * * *", timezone: Asia/Riyadh, overlap: allow}]
tasks:
  - {id: a, uses: sleep, with: {seconds: 30}}
"""
GUARDED = """\
name: guarded
on:
  schedule: [{cron: "* * * * *", overlap: skip}]
tasks:
  - {id: a, uses: sleep, with: {seconds: 30}}
"""


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[MemoryStore, Engine]]:
    store = MemoryStore()
    await store.open()
    engine = Engine(store, Settings(home=tmp_path, shutdown_grace_s=0.0), workdir=tmp_path)
    await engine.start()
    await apply_workflow(store, load_workflow(SPEC, "hourly.yaml"))
    yield store, engine
    await engine.stop(0.0)
    await store.close()


async def test_backfill_runs_each_fire_once_within_its_budget(
    setup: tuple[MemoryStore, Engine],
) -> None:
    store, engine = setup
    [request] = await request_backfill(
        store, "hourly", "2026-01-01T00:00", "2026-01-01T03:00", max_active=2
    )
    assert request["fires"] == 4  # 00:00, 01:00, 02:00, 03:00 Riyadh time, ends included
    clock = Scheduler(store, engine)
    first = await clock.backfiller.step(time.time())
    assert len(first) == 2  # the budget: two backfill runs active at once
    assert await clock.backfiller.step(time.time()) == []  # both still running
    for run_id in first:
        await engine.cancel_run(run_id)
    second = await clock.backfiller.step(time.time())
    assert len(second) == 2 and not set(second) & set(first)
    runs = {r.id: r for r in (await store.list_runs(limit=10)).items}
    assert {r.trigger for r in runs.values()} == {"backfill"}
    record = await store.get_schedule("hourly:0")
    assert record is not None and record.last_run_id is None  # live fires are untouched
    expected = backfill_run_id("hourly:0", 1767214800.0)  # 2026-01-01T00:00+03:00
    assert expected in runs
    events = [e for e in await store.list_events(limit=100) if e.type == "schedule.backfilled"]
    assert sorted(e.data["at"] for e in events) == [
        f"2026-01-01T0{h}:00:00+03:00" for h in range(4)
    ]
    assert runs[expected].logical_time == "2026-01-01T00:00:00+03:00"  # the period it is for
    assert {runs[e.run_id or ""].logical_time for e in events} == {e.data["at"] for e in events}
    for run_id in second:
        await engine.cancel_run(run_id)
    assert await clock.backfiller.step(time.time()) == []
    # Finished: the request is gone (open ones stay few however many were made).
    assert await store.kv_list("backfill") == []


async def test_overlap_skip_holds_across_live_and_backfill_runs_and_live_goes_first(
    setup: tuple[MemoryStore, Engine],
) -> None:
    store, engine = setup
    # The fixture's hourly schedule would also come due in an hour's last minute.
    await set_paused(store, "hourly", True)
    await apply_workflow(store, load_workflow(GUARDED, "guarded.yaml"))
    live = await store.get_schedule("guarded:0")
    assert live is not None and live.due_at is not None
    due = live.due_at
    await request_backfill(store, "guarded", "2026-01-01T00:00Z", "2026-01-01T00:02Z", max_active=3)
    clock = Scheduler(store, engine)
    [first] = await clock.backfiller.step(due - 1)  # overlap: skip: one at a time
    assert await clock.backfiller.step(due - 0.5) == []

    # The live fire comes due while the backfill run runs: it waits, it is not skipped.
    assert await clock.tick(due + 0.5) == []
    held = await store.get_schedule("guarded:0")
    assert held is not None and held.queued == [live.next_fire_at]
    events = await store.list_events(workflow="guarded", limit=100)
    queued = [e.data.get("reason") for e in events if e.type == "schedule.queued"]
    assert queued == ["backfill"] and "schedule.skipped" not in {e.type for e in events}

    await engine.cancel_run(first)
    await engine.wait(first)
    [fired] = await clock.tick(due + 1)  # the live fire first; no backfill run beside it
    run = await store.get_run(fired)
    assert run is not None and run.trigger == "schedule"
    assert await clock.backfiller.step(due + 1.5) == []
    await engine.cancel_run(fired)
    await engine.wait(fired)
    [second] = await clock.backfiller.step(due + 2)
    assert second != first
    await engine.cancel_run(second)


async def test_a_paused_schedule_starts_no_backfill_run(
    setup: tuple[MemoryStore, Engine],
) -> None:
    store, engine = setup
    await request_backfill(store, "hourly", "2026-01-01T00:00", "2026-01-01T01:00")
    await set_paused(store, "hourly", True)
    clock = Scheduler(store, engine)
    assert await clock.backfiller.step(time.time()) == []
    await set_paused(store, "hourly", False)
    started = await clock.backfiller.step(time.time())
    assert len(started) == 1
    await engine.cancel_run(started[0])


async def test_a_second_backfiller_does_not_double(
    setup: tuple[MemoryStore, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, engine = setup
    await request_backfill(store, "hourly:0", "2026-01-01T00:00", "2026-01-01T00:30")
    first, second = Scheduler(store, engine), Scheduler(store, engine)
    started = await first.backfiller.step(time.time())
    # The second read no runs yet (as if it raced): its insert is a refused duplicate.
    assert len(started) == 1

    async def no_statuses(run_ids: list[str]) -> dict[str, str]:
        return {}

    monkeypatch.setattr(store, "run_statuses", no_statuses)  # as if it read before the write
    assert await second.backfiller.step(time.time()) == []
    monkeypatch.undo()
    assert len((await store.list_runs()).items) == 1
    await engine.cancel_run(started[0])


@pytest.mark.parametrize(
    ("start", "end", "code"),
    [
        ("2026-01-02", "2026-01-01", "schedule.invalid_window"),
        ("2026-01-01", "2999-01-01", "schedule.invalid_window"),
        ("yesterday", "2026-01-01", "schedule.invalid_time"),
        # 1,441 hourly fires: more than a request holds, refused rather than cut to 1,000.
        ("2026-01-01T00:00", "2026-03-02T00:00", "schedule.invalid_window"),
    ],
)
async def test_bad_windows_are_refused(
    setup: tuple[MemoryStore, Engine], start: str, end: str, code: str
) -> None:
    store, _engine = setup
    with pytest.raises(BasirError) as caught:
        await request_backfill(store, "hourly", start, end)
    assert caught.value.code == code
    assert await store.kv_list("backfill") == []
