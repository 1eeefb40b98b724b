"""Admission by resources: whole-pool tasks never overlap, waits say why, release on every end."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import resource_funcs

from basir.config import Settings
from basir.coordinator.workflows import apply_workflow
from basir.engine.runtime import Engine
from basir.i18n import render_message
from basir.spec.models import WorkflowSpec
from basir.store.base import Store

GRADLE = {"pools": {"gradle": 1}}


@pytest.fixture
async def pooled(store: Store, tmp_path: Path) -> AsyncIterator[Engine]:
    """An engine with one `gradle` slot and two cpus."""
    settings = Settings(home=tmp_path / "home", shutdown_grace_s=0.0, pools={"gradle": 1, "cpu": 2})
    engine = Engine(store, settings, workdir=tmp_path)
    await engine.start(resume=False)
    resource_funcs.GATES.clear()
    yield engine
    await engine.stop(grace_s=0)


async def submit(engine: Engine, tasks: list[dict[str, Any]], **extra: Any) -> str:
    document = {"name": "res", "tasks": tasks, **extra}
    version, _ = await apply_workflow(engine.store, WorkflowSpec.model_validate(document))
    return (await engine.submit(version)).id


def assert_all_released(engine: Engine) -> None:
    allocator = engine.flow.admission.allocator
    assert allocator.held == {}
    assert all(used == 0 for used in allocator.in_use.values())
    assert engine.flow.admission.waiting == {}


async def test_whole_pool_tasks_never_overlap(pooled: Engine) -> None:
    window = {"python": "resource_funcs:window", "args": [0.15], "resources": GRADLE}
    tasks = [{"id": f"b{i}", **window} for i in range(3)]
    tasks.append({"id": "free", "python": "resource_funcs:window", "args": [0.15]})
    run_id = await submit(pooled, tasks)
    assert (await pooled.wait(run_id)).status == "succeeded"
    rows = {row.task_id: row.outputs for row in await pooled.store.get_tasks(run_id)}
    spans = sorted((rows[f"b{i}"]["start"], rows[f"b{i}"]["end"]) for i in range(3))
    for (_s1, end), (start, _e2) in itertools.pairwise(spans):
        assert end <= start  # one gradle slot: one at a time
    assert rows["free"]["start"] < spans[0][1]  # a task needing nothing is not held back
    assert_all_released(pooled)


async def test_fractional_cpu_tasks_run_together(pooled: Engine) -> None:
    half = {"python": "resource_funcs:gate", "resources": {"cpu": 0.5}}
    tasks = [{"id": f"c{i}", "args": ["cpu"], **half} for i in range(4)]
    with pooled.bus.subscribe(lambda e: e.type == "task.started") as started:
        run_id = await submit(pooled, tasks)
        for _ in range(4):  # 4 × 0.5 of 2 cpus: all start before any ends
            await asyncio.wait_for(started.get(), 10)
    resource_funcs.GATES["cpu"].set()
    assert (await pooled.wait(run_id)).status == "succeeded"
    assert_all_released(pooled)


async def test_waiting_task_says_why_and_starts_after_a_failure(pooled: Engine) -> None:
    tasks = [
        {"id": "first", "python": "resource_funcs:gate", "args": ["g", True], "resources": GRADLE},
        {"id": "second", "python": "resource_funcs:gate", "args": ["g"], "resources": GRADLE},
    ]
    with pooled.bus.subscribe(lambda e: e.type == "task.started") as started:
        run_id = await submit(pooled, tasks)
        assert (await asyncio.wait_for(started.get(), 10)).task_id == "first"
        rows = {row.task_id: row for row in await pooled.store.get_tasks(run_id)}
        assert rows["second"].status == "queued"
        assert render_message(rows["second"].waiting) == (
            f"waiting for gradle: 1/1 in use by run {run_id} task first"
        )
        resource_funcs.GATES["g"].set()
        assert (await asyncio.wait_for(started.get(), 10)).task_id == "second"
    final = await pooled.wait(run_id)
    rows = {row.task_id: row for row in await pooled.store.get_tasks(run_id)}
    assert final.status == "failed"
    assert (rows["first"].status, rows["second"].status) == ("failed", "succeeded")
    assert rows["second"].waiting is None
    assert_all_released(pooled)


async def test_timeout_releases_what_the_task_held(pooled: Engine) -> None:
    tasks = [
        {"id": "stuck", "python": "resource_funcs:gate", "args": ["never"], "timeout": 0.2,
         "resources": GRADLE},
        {"id": "next", "python": "resource_funcs:window", "args": [0], "resources": GRADLE},
    ]  # fmt: skip
    run_id = await submit(pooled, tasks)
    await pooled.wait(run_id)
    rows = {row.task_id: row for row in await pooled.store.get_tasks(run_id)}
    assert (rows["stuck"].status, rows["next"].status) == ("failed", "succeeded")
    assert_all_released(pooled)


async def test_cancel_releases_holders_and_waiters(pooled: Engine) -> None:
    tasks = [
        {"id": "a", "python": "resource_funcs:gate", "args": ["never"], "resources": GRADLE},
        {"id": "b", "python": "resource_funcs:gate", "args": ["never"], "resources": GRADLE},
    ]
    with pooled.bus.subscribe(lambda e: e.type == "task.started") as started:
        run_id = await submit(pooled, tasks)
        await asyncio.wait_for(started.get(), 10)
    await pooled.cancel_run(run_id)
    assert (await pooled.wait(run_id)).status == "cancelled"
    assert_all_released(pooled)


async def test_defaults_and_capacity_changes_apply(pooled: Engine) -> None:
    tasks = [{"id": f"t{i}", "python": "resource_funcs:gate", "args": ["d"]} for i in range(2)]
    with pooled.bus.subscribe(lambda e: e.type == "task.started") as started:
        run_id = await submit(pooled, tasks, defaults={"resources": {"pools": {"gradle": 1}}})
        await asyncio.wait_for(started.get(), 10)
        assert len(pooled.flow.admission.waiting) == 1  # the second waits for the slot
        await pooled.set_pool_capacity("gradle", 2)
        await asyncio.wait_for(started.get(), 10)  # both now hold a slot at once
    resource_funcs.GATES["d"].set()
    assert (await pooled.wait(run_id)).status == "succeeded"
    assert_all_released(pooled)
