"""Any shape up to the limits ends (issue 7 item 1): 10,000-task chains, fans and foreach.

The DAG walk is a worklist, so a failure at the head of a 10,000-task chain reaches every task
below it without one Python call per level.  Bodies are `noop`/`fail` builtins so each test
takes seconds; cancellation parks a `sleep` body mid-way and waits for its `task.started`.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from basir.config import Settings
from basir.coordinator.workflows import apply_workflow
from basir.engine.attempts import MAX_WORKFLOW_DEPTH
from basir.engine.runtime import Engine
from basir.i18n.deferred import render_message
from basir.spec.models import MAX_TASKS, WorkflowSpec
from basir.store.base import Store
from basir.store.factory import open_store
from basir.store.records import RunRecord

N = MAX_TASKS


@pytest.fixture
async def big_engine(tmp_path: Path) -> AsyncIterator[Engine]:
    """An engine on a real SQLite file with many slots.

    SQLite only: the in-memory store copies a run's rows per batch, which is fine for the
    small DAGs it serves but quadratic at 10,000 tasks.
    """
    store = open_store(f"sqlite:///{tmp_path / 'basir.db'}")
    await store.open()
    settings = Settings(home=tmp_path / "home", shutdown_grace_s=0.0, max_parallel=64)
    engine = Engine(store, settings, workdir=tmp_path)
    await engine.start(resume=False)
    yield engine
    await engine.stop(grace_s=0)
    await store.close()


async def run_doc(engine: Engine, document: dict[str, Any]) -> tuple[RunRecord, Counter[str]]:
    """Submit a document, wait for its end, count its task rows by status."""
    version, _created = await apply_workflow(engine.store, WorkflowSpec.model_validate(document))
    run = await engine.submit(version)
    final = await asyncio.wait_for(engine.wait(run.id), timeout=90)
    return final, await statuses(engine.store, run.id)


async def statuses(store: Store, run_id: str) -> Counter[str]:
    """How many task rows of a run are in each status."""
    return Counter(str(row.status) for row in await store.get_tasks(run_id))


def chain(n: int, *, body_at: dict[int, dict[str, Any]] | None = None) -> dict[str, Any]:
    """`t0 → t1 → … → t{n-1}`, noop bodies except those given by index."""
    tasks: list[dict[str, Any]] = []
    for index in range(n):
        task: dict[str, Any] = {"id": f"t{index}", "uses": "noop"}
        if index:
            task["needs"] = [f"t{index - 1}"]
        task.update((body_at or {}).get(index, {}))
        tasks.append(task)
    return {"name": "chain", "tasks": tasks}


def fan(width: int, *, middle: dict[str, Any] | None = None) -> dict[str, Any]:
    """`root → width tasks → join`: a fan-out and a fan-in over the whole width."""
    tasks: list[dict[str, Any]] = [{"id": "root", "uses": "noop"}]
    for index in range(width):
        tasks.append({"id": f"m{index}", "needs": ["root"], "uses": "noop", **(middle or {})})
    tasks.append({"id": "join", "needs": [f"m{i}" for i in range(width)], "uses": "noop"})
    return {"name": "fan", "tasks": tasks}


SLEEP = {"uses": "sleep", "with": {"seconds": 60}}


async def cancel_when_started(engine: Engine, document: dict[str, Any], task_id: str) -> RunRecord:
    """Submit, wait until `task_id` (or an instance of it) has started, cancel, wait."""
    version, _created = await apply_workflow(engine.store, WorkflowSpec.model_validate(document))
    with engine.bus.subscribe(
        lambda e: e.type == "task.started" and (e.task_id or "").startswith(task_id)
    ) as started:
        run = await engine.submit(version)
        await asyncio.wait_for(started.get(), timeout=60)
    await engine.cancel_run(run.id, by="test")
    return await asyncio.wait_for(engine.wait(run.id), timeout=60)


async def test_chain_of_the_limit_succeeds(big_engine: Engine) -> None:
    final, counts = await run_doc(big_engine, chain(N))
    assert final.status == "succeeded"
    assert counts == {"succeeded": N}


async def test_chain_failing_early_marks_everything_below_upstream_failed(
    big_engine: Engine,
) -> None:
    final, counts = await run_doc(big_engine, chain(N, body_at={1: {"uses": "fail"}}))
    assert final.status == "failed"
    assert counts == {"succeeded": 1, "failed": 1, "upstream_failed": N - 2}


async def test_wide_fan_out_and_fan_in(big_engine: Engine) -> None:
    final, counts = await run_doc(big_engine, fan(N - 2))
    assert final.status == "succeeded"
    assert counts == {"succeeded": N}


async def test_foreach_of_the_limit(big_engine: Engine) -> None:
    document = {
        "name": "wide",
        "tasks": [
            {"id": "each", "uses": "noop", "foreach": f"${{{{ range({N}) }}}}"},
            {"id": "after", "needs": ["each"], "uses": "noop"},
        ],
    }
    final, counts = await run_doc(big_engine, document)
    assert final.status == "succeeded"
    assert counts == {"succeeded": N + 2}


async def test_failure_beside_a_wide_foreach(big_engine: Engine) -> None:
    document = {
        "name": "beside",
        "tasks": [
            {"id": "each", "uses": "noop", "foreach": f"${{{{ range({N}) }}}}"},
            {"id": "bad", "uses": "fail"},
            {"id": "after", "needs": ["each", "bad"], "uses": "noop"},
            {"id": "cleanup", "needs": ["each", "bad"], "uses": "noop", "when": "always"},
        ],
    }
    final, counts = await run_doc(big_engine, document)
    assert final.status == "failed"
    assert counts == {"succeeded": N + 2, "failed": 1, "upstream_failed": 1}


async def test_cancel_a_chain_mid_way(big_engine: Engine) -> None:
    final = await cancel_when_started(big_engine, chain(N, body_at={N // 2: SLEEP}), "t5000")
    counts = await statuses(big_engine.store, final.id)
    assert final.status == "cancelled"
    assert counts == {"succeeded": N // 2, "cancelled": N // 2}


async def test_cancel_a_wide_fan_mid_way(big_engine: Engine) -> None:
    document = fan(N - 2, middle=SLEEP) | {"concurrency": 8}
    final = await cancel_when_started(big_engine, document, "m")
    counts = await statuses(big_engine.store, final.id)
    assert final.status == "cancelled"
    assert counts == {"succeeded": 1, "cancelled": N - 1}


async def test_cancel_a_wide_foreach_mid_way(big_engine: Engine) -> None:
    document = {
        "name": "wide",
        "concurrency": 8,
        "tasks": [
            {"id": "each", **SLEEP, "foreach": f"${{{{ range({N}) }}}}"},
            {"id": "after", "needs": ["each"], "uses": "noop"},
        ],
    }
    final = await cancel_when_started(big_engine, document, "each[")
    counts = await statuses(big_engine.store, final.id)
    assert final.status == "cancelled"
    assert counts == {"cancelled": N + 2}


async def test_cancel_a_failure_beside_a_wide_foreach_mid_way(big_engine: Engine) -> None:
    document = {
        "name": "beside",
        "concurrency": 8,
        "tasks": [
            {"id": "bad", "uses": "fail"},
            {"id": "each", "needs": ["bad"], "when": "always", **SLEEP},
            {"id": "after", "needs": ["each"], "uses": "noop"},
        ],
    }
    document["tasks"][1]["foreach"] = f"${{{{ range({N}) }}}}"
    final = await cancel_when_started(big_engine, document, "each[")
    counts = await statuses(big_engine.store, final.id)
    assert final.status == "cancelled"
    assert counts == {"failed": 1, "cancelled": N + 2}  # the parent, its instances, `after`


async def child_chain(engine: Engine, name: str) -> list[RunRecord]:
    """The runs below a top-level run, following each run's one `workflow:` task down."""
    runs: list[RunRecord] = []
    record = await engine.store.get_run(name)
    while record is not None:
        runs.append(record)
        rows = await engine.store.get_tasks(record.id)
        child_ids = [row.outputs.get("run_id") for row in rows if row.outputs.get("run_id")]
        record = await engine.store.get_run(str(child_ids[0])) if child_ids else None
    return runs


async def test_child_workflows_nest_to_the_depth_limit(big_engine: Engine) -> None:
    for level in range(MAX_WORKFLOW_DEPTH, -1, -1):
        body = {"workflow": f"w{level + 1}"} if level < MAX_WORKFLOW_DEPTH else {"uses": "noop"}
        document = {"name": f"w{level}", "tasks": [{"id": "step", **body}]}
        await apply_workflow(big_engine.store, WorkflowSpec.model_validate(document))
    version = await big_engine.store.get_workflow("w0")
    assert version is not None
    run = await big_engine.submit(version)
    final = await asyncio.wait_for(big_engine.wait(run.id), timeout=60)
    assert final.status == "succeeded"
    runs = await child_chain(big_engine, run.id)
    assert [r.workflow for r in runs] == [f"w{level}" for level in range(MAX_WORKFLOW_DEPTH + 1)]


async def test_child_workflows_beyond_the_depth_limit_fail_clearly(big_engine: Engine) -> None:
    document = {"name": "loop", "tasks": [{"id": "again", "workflow": "loop"}]}
    final, counts = await run_doc(big_engine, document)
    assert final.status == "failed"
    assert counts == {"failed": 1}
    runs = await child_chain(big_engine, final.id)
    assert len(runs) == MAX_WORKFLOW_DEPTH + 1
    assert all(r.status == "failed" for r in runs)
    deepest = await big_engine.store.get_tasks(runs[-1].id)
    assert deepest[0].error is not None
    assert f"nest at most {MAX_WORKFLOW_DEPTH} deep" in render_message(deepest[0].error)
