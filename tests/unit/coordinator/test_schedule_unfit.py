"""A cron fire of a version whose task could never start now (a pool lowered since it was
applied, a namespace quota below one task's need) is skipped (`invalid`), not left waiting."""

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
name: nightly
namespace: mobile
on:
  schedule: [{cron: "* * * * *", timezone: UTC}]
tasks:
  - {id: build, uses: noop, resources: {memory: 200Mi, pools: {gradle: 2}}}
"""


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[MemoryStore, Engine]]:
    store = MemoryStore()
    await store.open()
    settings = Settings(home=tmp_path, shutdown_grace_s=0.0, pools="gradle=2")
    engine = Engine(store, settings, workdir=tmp_path)
    await engine.start()
    await apply_workflow(store, load_workflow(SPEC, "nightly.yaml", pools={"gradle": 2}))
    [record] = await store.list_schedules()
    fields = {"next_fire_at": T0, "due_at": T0}
    await store.update_schedule(ScheduleUpdate(record.id, record.revision, fields))
    yield store, engine
    await engine.stop(0.0)
    await store.close()


async def _skipped(store: MemoryStore) -> list[dict[str, object]]:
    return [e.data for e in await store.list_events(limit=100) if e.type == "schedule.skipped"]


async def test_a_fire_of_a_version_that_no_longer_fits_the_pools_is_skipped(
    setup: tuple[MemoryStore, Engine],
) -> None:
    store, engine = setup
    await engine.set_pool_capacity("gradle", 1)
    clock = Scheduler(store, engine)
    assert await clock.tick(T0 + 0.5) == []
    [skipped] = await _skipped(store)
    assert skipped["reason"] == "invalid"
    assert skipped["problems"] == [
        {
            "field": "tasks[0].resources.pools.gradle",
            "code": "spec.resource_too_large",
            "message": "task build asks for 2 of pool gradle, whose capacity is 1;"
            " it could never start",
        }
    ]
    assert (await store.list_runs()).items == []  # no run waits for ever
    await engine.set_pool_capacity("gradle", 2)  # fits again: the next fire runs
    [run_id] = await clock.tick(T0 + 60.5)
    assert (await engine.wait(run_id)).status == "succeeded"


async def test_a_fire_whose_task_needs_more_than_the_quota_is_skipped(
    setup: tuple[MemoryStore, Engine],
) -> None:
    store, engine = setup
    await resource_policies.set_quota(engine, "mobile", {"memory": "100Mi"})
    clock = Scheduler(store, engine)
    assert await clock.tick(T0 + 0.5) == []
    [skipped] = await _skipped(store)
    assert skipped["reason"] == "invalid"
    [problem] = skipped["problems"]  # type: ignore[misc]
    assert problem["code"] == "spec.quota_too_small"
    assert problem["field"] == "tasks[0].resources.memory"
    assert "200Mi of memory, more than the quota of namespace mobile" in problem["message"]
