"""Deadlines: `deadline.at_risk` from earlier runs' durations, and a task's own deadline."""

from __future__ import annotations

import asyncio
from typing import Any

from basir.coordinator.workflows import apply_workflow
from basir.engine.runtime import Engine
from basir.spec.models import WorkflowSpec

SLOW = {"id": "slow", "uses": "sleep", "with": {"seconds": 0.3}}


def document(**extra: Any) -> dict[str, Any]:
    then = {"id": "then", "uses": "noop", "needs": ["slow"], **extra.pop("then", {})}
    return {"name": "dl", "tasks": [SLOW, then], **extra}


async def test_at_risk_from_history_and_a_tasks_own_deadline_missed(engine: Engine) -> None:
    version, _ = await apply_workflow(engine.store, WorkflowSpec.model_validate(document()))
    first = await engine.submit(version)  # history: `slow` takes about 0.3 s
    assert (await engine.wait(first.id)).status == "succeeded"

    tight = document(deadline="100ms", then={"deadline": "50ms"})
    version, _ = await apply_workflow(engine.store, WorkflowSpec.model_validate(tight))
    seen: set[tuple[str, str | None]] = set()
    with engine.bus.subscribe(lambda e: e.type.startswith("deadline.")) as events:
        run = await engine.submit(version)
        expected = {
            ("deadline.at_risk", None),
            ("deadline.at_risk", "then"),
            ("deadline.missed", "then"),
            ("deadline.missed", None),
        }
        while not expected <= seen:
            event = await asyncio.wait_for(events.get(), 10)
            assert event.run_id == run.id
            seen.add((event.type, event.task_id))
            if event.type == "deadline.at_risk":
                assert event.data["estimate_s"] >= 0.25 and event.data["left_s"] <= 0.1
    assert (await engine.wait(run.id)).status == "succeeded"  # a deadline is advice, not a kill
    stored = [e for e in await engine.store.list_events(run_id=run.id) if "deadline" in e.type]
    pairs = [(e.type, e.task_id or "") for e in stored]
    assert sorted(pairs) == sorted((t, i or "") for t, i in seen)  # each once, durable


async def test_no_history_no_at_risk(engine: Engine) -> None:
    version, _ = await apply_workflow(
        engine.store, WorkflowSpec.model_validate(document(deadline="1h"))
    )
    run = await engine.submit(version)
    assert (await engine.wait(run.id)).status == "succeeded"
    types = [e.type for e in await engine.store.list_events(run_id=run.id)]
    assert "deadline.at_risk" not in types and "deadline.missed" not in types
