"""Fair share through the engine: contended namespaces start tasks by their quota weights."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from basir.config import Settings
from basir.coordinator.workflows import apply_workflow
from basir.engine import resource_policies
from basir.engine.runtime import Engine
from basir.spec.models import WorkflowSpec
from basir.store.base import Store

TASKS = 60


@pytest.fixture
async def one_slot(store: Store, tmp_path: Path) -> AsyncIterator[Engine]:
    """An engine that runs one task at a time, so every start is a contended pick."""
    settings = Settings(home=tmp_path / "home", shutdown_grace_s=0.0, max_parallel=1)
    engine = Engine(store, settings, workdir=tmp_path)
    await engine.start(resume=False)
    yield engine
    await engine.stop(grace_s=0)


async def submit(engine: Engine, name: str, namespace: str, priority: str = "normal") -> str:
    document = {
        "name": name,
        "namespace": namespace,
        "priority": priority,
        "tasks": [{"id": f"t{i}", "uses": "noop"} for i in range(TASKS)],
    }
    version, _ = await apply_workflow(engine.store, WorkflowSpec.model_validate(document))
    return (await engine.submit(version)).id


async def test_starts_follow_the_weights_while_both_have_work(one_slot: Engine) -> None:
    await resource_policies.set_quota(one_slot, "heavy", {"weight": 3})
    order: list[str] = []
    with one_slot.bus.subscribe(lambda e: e.type == "task.started") as started:
        runs = {await submit(one_slot, "h", "heavy"): "heavy"}
        runs[await submit(one_slot, "l", "light")] = "light"
        for run_id in runs:
            await one_slot.wait(run_id)
        while len(order) < 2 * TASKS:
            order.append(runs[(await started.get()).run_id])
    # `heavy` is alone until `light` is submitted; then both contend until `heavy` runs dry.
    first = order.index("light")
    assert first <= 20
    contended = order[first : first + 40]
    assert 27 <= contended.count("heavy") <= 33, contended  # 3:1 of 40 is 30, within 10 %


async def test_a_higher_priority_namespace_is_not_held_back_by_its_share(
    one_slot: Engine,
) -> None:
    await resource_policies.set_quota(one_slot, "light", {"weight": 1})
    await resource_policies.set_quota(one_slot, "heavy", {"weight": 100})
    order: list[str] = []
    with one_slot.bus.subscribe(lambda e: e.type == "task.started") as started:
        runs = {await submit(one_slot, "h", "heavy", "low"): "heavy"}
        runs[await submit(one_slot, "l", "light", "critical")] = "light"
        for run_id in runs:
            await one_slot.wait(run_id)
        while len(order) < 2 * TASKS:
            order.append(runs[(await started.get()).run_id])
    # Once submitted, every critical task of `light` goes before heavy's low ones.
    first = order.index("light")
    assert order[first : first + TASKS] == ["light"] * TASKS
