"""Controls that land at awkward moments must never leave a task or a slot behind."""

from __future__ import annotations

import asyncio

from basir.coordinator.workflows import apply_workflow
from basir.engine.runtime import Engine
from basir.spec.models import WorkflowSpec


async def test_cancel_right_after_start_is_accounted(engine: Engine) -> None:
    version, _ = await apply_workflow(
        engine.store,
        WorkflowSpec.model_validate(
            {
                "name": "race",
                "tasks": [
                    {"id": f"s{i}", "uses": "sleep", "with": {"seconds": 30}} for i in range(5)
                ],
            }
        ),
    )
    for _ in range(5):
        run = await engine.submit(version)
        # submit returns once `running` is committed, before the attempts took a first step.
        await engine.cancel_run(run.id)
        final = await asyncio.wait_for(engine.wait(run.id), 5)
        assert final.status == "cancelled"
        rows = await engine.store.get_tasks(run.id)
        assert {row.status for row in rows} == {"cancelled"}
    assert engine.flow.slots_used == 0
    assert engine.flow.attempts == {}
