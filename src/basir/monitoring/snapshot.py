"""Runs and tasks by state from an engine's memory: what the scrape and the sampler read.

The engine holds every active run of its store in memory, so counting them there costs no
store round trip — sampling every ten seconds with thousands of running tasks stays cheap.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from basir.engine.runtime import Engine
from basir.engine.state import RunState
from basir.monitoring.metrics import StateProvider, StateSnapshot


def count_states(runs: Iterable[RunState], ready: int) -> StateSnapshot:
    """Count runs and tasks by state; `ready` is the ready queue's length."""
    run_states: Counter[str] = Counter()
    task_states: Counter[str] = Counter()
    for run in runs:
        run_states[str(run.record.status)] += 1
        task_states.update(str(task.status) for task in run.tasks.values())
    return StateSnapshot(runs=dict(run_states), tasks=dict(task_states), queue_depth=ready)


def pool_amounts(pools: Iterable[dict[str, Any]]) -> dict[str, tuple[float, float]]:
    """Each pool's (capacity, in use) from `Engine.resources_status()["pools"]`."""
    return {str(p["name"]): (float(p["capacity"]), float(p["in_use"])) for p in pools}


def engine_state(engine: Engine) -> StateProvider:
    """A snapshot provider reading `engine`'s active runs and ready queue."""

    async def provide() -> StateSnapshot:
        snapshot = count_states(list(engine.flow.runs.values()), len(engine.flow.ready))
        snapshot.pools = pool_amounts(engine.resources_status()["pools"])
        return snapshot

    return provide


def oldest_queued_at(engine: Engine) -> float | None:
    """When the longest-waiting queued task of `engine` was queued (None when none waits)."""
    waiting = [
        task.queued_at
        for run in engine.flow.runs.values()
        for task in run.tasks.values()
        if task.status == "queued" and task.queued_at is not None and not task.held
    ]
    return min(waiting, default=None)
