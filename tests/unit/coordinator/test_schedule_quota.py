"""A cron fire honours its namespace's `refuse` quota: over it, the fire is skipped (`quota`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from basir.config import Settings
from basir.coordinator.schedules import Scheduler
from basir.coordinator.workflows import apply_workflow
from basir.engine import resource_policies
from basir.engine.runtime import Engine
from basir.spec import load_workflow
from basir.store.memory import MemoryStore
from basir.store.records import ScheduleUpdate

T0 = 1_800_000_000.0
SPEC = """\
name: minutely
namespace: mobile
on:
  schedule: [{cron: "* * * * *", timezone: UTC}]
tasks:
  - {id: a, uses: noop}
"""


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[MemoryStore, Engine]]:
    store = MemoryStore()
    await store.open()
    engine = Engine(store, Settings(home=tmp_path, shutdown_grace_s=0.0), workdir=tmp_path)
    await engine.start()
    await apply_workflow(store, load_workflow(SPEC, "minutely.yaml"))
    [record] = await store.list_schedules()
    fields = {"next_fire_at": T0, "due_at": T0}
    await store.update_schedule(ScheduleUpdate(record.id, record.revision, fields))
    yield store, engine
    await engine.stop(0.0)
    await store.close()


async def test_a_fire_over_the_hourly_quota_is_skipped(
    setup: tuple[MemoryStore, Engine],
) -> None:
    store, engine = setup
    await resource_policies.set_quota(engine, "mobile", {"runs_per_hour": 1, "policy": "refuse"})
    clock = Scheduler(store, engine)
    [run_id] = await clock.tick(T0 + 0.5)
    assert (await engine.wait(run_id)).status == "succeeded"
    assert await clock.tick(T0 + 60.5) == []  # a second run within the hour: refused
    events = [e for e in await store.list_events(limit=100) if e.type == "schedule.skipped"]
    assert [e.data["reason"] for e in events] == ["quota"]
    assert "1/1 runs started in the past hour" in events[0].data["error"]
    [run_again] = await clock.tick(T0 + 3600 + 60.5)  # the hour has passed
    assert (await engine.wait(run_again)).status == "succeeded"
