"""A one-off workflow run to its end, with its `resource.memory_exceeded` events: what the
memory-limit tests (`RLIMIT_AS`, cgroups on the real kernel) look at."""

from __future__ import annotations

import asyncio
from typing import Any

from basir.coordinator.workflows import apply_workflow
from basir.engine.report import run_to_dict
from basir.engine.runtime import Engine
from basir.spec.models import WorkflowSpec
from basir.store.records import EventRecord

EXCEEDED = "resource.memory_exceeded"


async def run(
    engine: Engine, tasks: list[dict[str, Any]], name: str = "limits"
) -> tuple[dict[str, Any], list[EventRecord]]:
    """Run a one-off workflow of `tasks` to its end; its result and its memory events."""
    spec = WorkflowSpec.model_validate({"name": name, "tasks": tasks})
    version, _ = await apply_workflow(engine.store, spec)
    with engine.bus.subscribe(lambda e: e.type == EXCEEDED) as exceeded:
        run_id = (await engine.submit(version)).id
        final = await asyncio.wait_for(engine.wait(run_id), 60)
        events = exceeded.drain()
    return run_to_dict(final, await engine.store.get_tasks(run_id)), events
