"""A task's own `priority:` orders it among ready tasks; without one, its run's counts."""

from __future__ import annotations

import asyncio
from pathlib import Path

from basir.config import Settings
from basir.coordinator.workflows import apply_workflow
from basir.engine.runtime import Engine
from basir.spec.models import WorkflowSpec
from basir.store.base import Store


async def test_task_priority_orders_the_ready_queue(store: Store, tmp_path: Path) -> None:
    engine = Engine(store, Settings(home=tmp_path / "home", max_parallel=1), workdir=tmp_path)
    await engine.start(resume=False)
    document = {
        "name": "prio",
        "priority": "normal",
        "tasks": [
            {"id": "low", "uses": "noop", "priority": "low"},
            {"id": "plain", "uses": "noop"},
            {"id": "urgent", "uses": "noop", "priority": "critical"},
        ],
    }
    try:
        version, _ = await apply_workflow(store, WorkflowSpec.model_validate(document))
        with engine.bus.subscribe(lambda e: e.type == "task.started") as started:
            run = await engine.submit(version)
            order = [(await asyncio.wait_for(started.get(), 10)).task_id for _ in range(3)]
        assert (await engine.wait(run.id)).status == "succeeded"
    finally:
        await engine.stop(grace_s=0)
    assert order == ["urgent", "plain", "low"]
