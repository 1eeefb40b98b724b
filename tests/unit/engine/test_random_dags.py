"""Property: any valid DAG, whatever fails or is skipped, ends with every task in a final state."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from basir.config import Settings
from basir.coordinator.workflows import apply_workflow
from basir.engine.runtime import Engine
from basir.spec.models import WorkflowSpec
from basir.states import RUN_TERMINAL, TASK_TERMINAL
from basir.store.memory import MemoryStore


@st.composite
def dags(draw: st.DrawFn) -> dict[str, Any]:
    size = draw(st.integers(min_value=1, max_value=14))
    tasks = []
    for index in range(size):
        needs = draw(st.lists(st.integers(0, index - 1), max_size=3, unique=True)) if index else []
        task: dict[str, Any] = {
            "id": f"t{index}",
            "needs": [f"t{n}" for n in needs],
            "when": draw(st.sampled_from(["on_success", "on_failure", "always"])),
            "continue_on_error": draw(st.booleans()),
        }
        body = draw(st.sampled_from(["noop", "fail", "if-false", "foreach"]))
        if body == "fail":
            task |= {"uses": "fail", "retries": draw(st.integers(0, 1)) and {"max": 1, "delay": 0}}
            if not task["retries"]:
                del task["retries"]
        elif body == "if-false":
            task |= {"uses": "noop", "if": "${{ 1 == 2 }}"}
        elif body == "foreach":
            task |= {"uses": "noop", "foreach": f"${{{{ range({draw(st.integers(0, 3))}) }}}}"}
        else:
            task["uses"] = "noop"
        tasks.append(task)
    return {"name": "random", "concurrency": draw(st.integers(1, 4)), "tasks": tasks}


async def run_to_end(document: dict[str, Any], home: Path) -> tuple[str, dict[str, str]]:
    store = MemoryStore("memory://")
    await store.open()
    engine = Engine(store, Settings(home=home), workdir=home)
    await engine.start(resume=False)
    try:
        version, _ = await apply_workflow(store, WorkflowSpec.model_validate(document))
        run = await engine.submit(version)
        final = await asyncio.wait_for(engine.wait(run.id), timeout=20)
        rows = await store.get_tasks(run.id)
        return final.status, {row.task_id: row.status for row in rows}
    finally:
        await engine.stop(grace_s=0)
        await store.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=dags())
def test_random_dags_always_terminate(document: dict[str, Any], tmp_path_factory: Any) -> None:
    home = tmp_path_factory.mktemp("dag")
    status, tasks = asyncio.run(run_to_end(document, home))
    assert status in RUN_TERMINAL
    assert all(state in TASK_TERMINAL for state in tasks.values()), tasks
    top_level = {t["id"] for t in document["tasks"]}
    assert top_level <= set(tasks)
    failed_for_good = any(
        tasks[t["id"]] in {"failed", "upstream_failed"} and not t["continue_on_error"]
        for t in document["tasks"]
    )
    assert (status == "failed") == failed_for_good
