"""Property at the limits: random DAGs of thousands of tasks, up to `MAX_TASKS`, all end.

Few examples, large sizes (the small, many-example property lives in tests/unit/engine).  Each
task needs one to three earlier tasks, mostly near ones, so the draws hold long chains as well
as wide fans; a few bodies fail, a few are gated, so failures run far down the graph.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from basir.config import Settings
from basir.coordinator.workflows import apply_workflow
from basir.engine.runtime import Engine
from basir.spec.models import MAX_TASKS, WorkflowSpec
from basir.states import RUN_TERMINAL, TASK_TERMINAL
from basir.store.factory import open_store


@st.composite
def large_dags(draw: st.DrawFn) -> dict[str, Any]:
    size = draw(st.just(MAX_TASKS) | st.integers(min_value=1_000, max_value=MAX_TASKS))
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    fail_rate = draw(st.sampled_from([0.0, 0.0005, 0.01]))
    tasks: list[dict[str, Any]] = []
    for index in range(size):
        needs: set[int] = set()
        if index:
            needs.add(index - 1 if rng.random() < 0.7 else rng.randrange(index))
            for _extra in range(rng.randrange(3)):
                needs.add(rng.randrange(max(0, index - 50), index))
        task: dict[str, Any] = {
            "id": f"t{index}",
            "needs": [f"t{n}" for n in sorted(needs)],
            "uses": "fail" if rng.random() < fail_rate else "noop",
        }
        if rng.random() < 0.02:
            task["when"] = rng.choice(["on_failure", "always"])
        if rng.random() < 0.02:
            task["continue_on_error"] = True
        tasks.append(task)
    return {"name": "large", "tasks": tasks}


async def run_to_end(document: dict[str, Any], home: Path) -> tuple[str, dict[str, str]]:
    store = open_store(f"sqlite:///{home / 'basir.db'}")
    await store.open()
    engine = Engine(store, Settings(home=home, max_parallel=64), workdir=home)
    await engine.start(resume=False)
    try:
        version, _ = await apply_workflow(store, WorkflowSpec.model_validate(document))
        run = await engine.submit(version)
        final = await asyncio.wait_for(engine.wait(run.id), timeout=90)
        rows = await store.get_tasks(run.id)
        return final.status, {row.task_id: row.status for row in rows}
    finally:
        await engine.stop(grace_s=0)
        await store.close()


@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
@given(document=large_dags())
def test_large_random_dags_always_terminate(
    document: dict[str, Any], tmp_path_factory: Any
) -> None:
    home = tmp_path_factory.mktemp("dag")
    status, tasks = asyncio.run(run_to_end(document, home))
    assert status in RUN_TERMINAL
    assert len(tasks) == len(document["tasks"])
    assert all(state in TASK_TERMINAL for state in tasks.values())
    failed_for_good = any(
        tasks[t["id"]] in {"failed", "upstream_failed"} and not t.get("continue_on_error")
        for t in document["tasks"]
    )
    assert (status == "failed") == failed_for_good
