"""Running workflows end to end on the engine, against memory and SQLite stores."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import engine_funcs
import pytest
from engine_funcs import RunFn

from basir.coordinator.workflows import apply_workflow
from basir.engine.runtime import Engine
from basir.spec.models import WorkflowSpec


def statuses(result: dict[str, Any]) -> dict[str, str]:
    return {task: entry["status"] for task, entry in result["tasks"].items()}


async def test_outputs_flow_between_shell_and_python(run_workflow: RunFn) -> None:
    result = await run_workflow(
        {
            "name": "flow",
            "params": {"n": {"type": "integer", "default": 2}},
            "tasks": [
                {"id": "a", "run": 'echo "value=40" >> "$BASIR_OUTPUT"'},
                {
                    "id": "b",
                    "needs": ["a"],
                    "python": "engine_funcs:add",
                    "args": ["${{ int(tasks.a.outputs.value) }}", "${{ params.n }}"],
                },
                {
                    "id": "c",
                    "needs": ["b"],
                    "uses": "echo",
                    "with": {"message": "total ${{ tasks.b.outputs.result }}"},
                },
            ],
        }
    )
    assert result["status"] == "succeeded"
    assert result["tasks"]["a"]["outputs"] == {"value": "40"}
    assert result["tasks"]["b"]["outputs"] == {"result": 42}
    assert result["tasks"]["c"]["outputs"] == {"message": "total 42"}
    assert all(entry["attempts"] == 1 for entry in result["tasks"].values())


async def test_failure_propagates_and_handlers_run(run_workflow: RunFn) -> None:
    result = await run_workflow(
        {
            "name": "failing",
            "tasks": [
                {"id": "bad", "uses": "fail", "with": {"message": "boom"}},
                {"id": "after", "needs": ["bad"], "uses": "noop"},
                {"id": "later", "needs": ["after"], "uses": "noop"},
                {"id": "on-fail", "needs": ["bad"], "when": "on_failure", "uses": "noop"},
                {"id": "cleanup", "needs": ["later"], "when": "always", "uses": "noop"},
                {"id": "independent", "uses": "noop"},
            ],
        }
    )
    assert result["status"] == "failed"
    assert statuses(result) == {
        "bad": "failed",
        "after": "upstream_failed",
        "later": "upstream_failed",
        "on-fail": "succeeded",
        "cleanup": "succeeded",
        "independent": "succeeded",
    }
    assert "boom" in result["tasks"]["bad"]["error"]


async def test_if_false_skips_and_skips_dependants(run_workflow: RunFn) -> None:
    result = await run_workflow(
        {
            "name": "conditional",
            "params": {"branch": {"type": "string", "default": "dev"}},
            "tasks": [
                {"id": "deploy", "if": "${{ params.branch == 'main' }}", "uses": "noop"},
                {"id": "notify", "needs": ["deploy"], "uses": "noop"},
                {"id": "always", "if": "${{ params.branch != 'main' }}", "uses": "noop"},
            ],
        }
    )
    assert result["status"] == "succeeded"
    assert statuses(result) == {"deploy": "skipped", "notify": "skipped", "always": "succeeded"}


async def test_continue_on_error_keeps_the_run_green(run_workflow: RunFn) -> None:
    result = await run_workflow(
        {
            "name": "tolerant",
            "tasks": [
                {"id": "lint", "uses": "fail", "continue_on_error": True},
                {"id": "build", "needs": ["lint"], "uses": "noop"},
            ],
        }
    )
    assert result["status"] == "succeeded"
    assert statuses(result) == {"lint": "failed", "build": "succeeded"}


async def test_retries_with_backoff_count_attempts(run_workflow: RunFn, tmp_path: Path) -> None:
    marker = tmp_path / "count"
    result = await run_workflow(
        {
            "name": "flaky",
            "tasks": [
                {
                    "id": "f",
                    "python": "engine_funcs:flaky",
                    "args": [str(marker), 2],
                    "retries": {"max": 3, "backoff": "exponential", "delay": "10ms"},
                }
            ],
        }
    )
    assert result["status"] == "succeeded"
    assert result["tasks"]["f"]["attempts"] == 3
    assert marker.read_text() == "3"


async def test_retries_exhausted_fail_the_task(run_workflow: RunFn, tmp_path: Path) -> None:
    result = await run_workflow(
        {
            "name": "hopeless",
            "defaults": {"retries": 1},
            "tasks": [
                {
                    "id": "f",
                    "python": "engine_funcs:flaky",
                    "args": [str(tmp_path / "c"), 5],
                    "retries": {"max": 1, "delay": "1ms"},
                }
            ],
        }
    )
    assert result["status"] == "failed"
    assert result["tasks"]["f"]["attempts"] == 2
    assert "failure 2" in result["tasks"]["f"]["error"]


async def test_timeout_kills_the_task(run_workflow: RunFn) -> None:
    started = time.monotonic()
    result = await run_workflow(
        {
            "name": "slow",
            "tasks": [{"id": "s", "run": "sleep 30", "timeout": "300ms"}],
        }
    )
    assert time.monotonic() - started < 10
    assert result["tasks"]["s"]["status"] == "failed"
    assert "timed out" in result["tasks"]["s"]["error"]


async def test_concurrency_limit_is_respected(run_workflow: RunFn) -> None:
    engine_funcs.RUNNING.update(now=0, peak=0)
    result = await run_workflow(
        {
            "name": "limited",
            "concurrency": 2,
            "tasks": [
                {"id": f"t{i}", "python": "engine_funcs:track", "args": [0.05]} for i in range(6)
            ],
        }
    )
    assert result["status"] == "succeeded"
    assert engine_funcs.RUNNING["peak"] == 2


async def test_independent_tasks_run_in_parallel(run_workflow: RunFn) -> None:
    started = time.monotonic()
    result = await run_workflow(
        {
            "name": "parallel",
            "tasks": [
                {"id": f"s{i}", "uses": "sleep", "with": {"seconds": 0.3}} for i in range(20)
            ],
        }
    )
    assert result["status"] == "succeeded"
    assert time.monotonic() - started < 3.0  # 20 x 0.3 s would be 6 s serially


async def test_foreach_fans_out_and_in(run_workflow: RunFn) -> None:
    result = await run_workflow(
        {
            "name": "fan",
            "tasks": [
                {"id": "list", "run": """echo 'items=["a","b","c"]' >> "$BASIR_OUTPUT" """},
                {
                    "id": "each",
                    "needs": ["list"],
                    "foreach": "${{ tasks.list.outputs.items }}",
                    "python": "engine_funcs:outputs",
                    "args": {"item": "${{ item }}", "index": "${{ index }}"},
                },
                {
                    "id": "join",
                    "needs": ["each"],
                    "python": "engine_funcs:outputs",
                    "args": {"all": "${{ tasks.each.outputs.items }}"},
                },
            ],
        }
    )
    assert result["status"] == "succeeded"
    assert result["tasks"]["each[1]"]["outputs"] == {"item": "b", "index": 1}
    assert result["tasks"]["join"]["outputs"]["all"] == [
        {"item": "a", "index": 0},
        {"item": "b", "index": 1},
        {"item": "c", "index": 2},
    ]


async def test_bad_params_change_nothing(engine: Engine) -> None:
    import pytest

    from basir.errors import BasirError

    version, _ = await apply_workflow(
        engine.store,
        WorkflowSpec.model_validate(
            {
                "name": "typed",
                "params": {"n": {"type": "integer", "required": True}},
                "tasks": [{"id": "a", "uses": "noop"}],
            }
        ),
    )
    for params in ({}, {"n": "x"}, {"n": 1, "other": 2}):
        with pytest.raises(BasirError) as caught:
            await engine.submit(version, params=params)
        assert caught.value.code == "run.invalid_params"
    page = await engine.store.list_runs()
    assert page.items == []


async def test_child_workflow_runs_and_reports(run_workflow: RunFn, engine: Engine) -> None:
    await apply_workflow(
        engine.store,
        WorkflowSpec.model_validate({"name": "child", "tasks": [{"id": "x", "uses": "noop"}]}),
    )
    result = await run_workflow({"name": "parent", "tasks": [{"id": "c", "workflow": "child"}]})
    assert result["status"] == "succeeded"
    assert result["tasks"]["c"]["outputs"]["status"] == "succeeded"


async def test_events_are_published_after_commit(engine: Engine) -> None:
    subscription = engine.bus.subscribe()
    version, _ = await apply_workflow(
        engine.store,
        WorkflowSpec.model_validate({"name": "ev", "tasks": [{"id": "a", "uses": "noop"}]}),
    )
    run = await engine.submit(version)
    await engine.wait(run.id)
    await asyncio.sleep(0)
    seen = []
    while (event := subscription.get_nowait()) is not None:
        seen.append(event.type)
        stored = await engine.store.list_events(after=event.id - 1, limit=1)
        assert stored and stored[0].id == event.id  # visible only once durable
    assert seen[0] == "run.queued"
    assert seen[-1] == "run.succeeded"
    assert "task.started" in seen and "task.succeeded" in seen


async def test_deadline_miss_is_an_event(engine: Engine) -> None:
    version, _ = await apply_workflow(
        engine.store,
        WorkflowSpec.model_validate(
            {
                "name": "late",
                "deadline": "100ms",
                "tasks": [{"id": "slow", "uses": "sleep", "with": {"seconds": 0.4}}],
            }
        ),
    )
    on_time, _ = await apply_workflow(
        engine.store,
        WorkflowSpec.model_validate(
            {
                "name": "prompt",
                "deadline": "5s",
                "tasks": [{"id": "a", "uses": "noop"}],
            }
        ),
    )
    late = await engine.submit(version)
    prompt = await engine.submit(on_time)
    assert (await engine.wait(late.id)).status == "succeeded"  # a miss is reported, not fatal
    await engine.wait(prompt.id)
    missed = await engine.store.list_events(types=("deadline.missed",), limit=10)
    assert [e.run_id for e in missed] == [late.id]
    assert missed[0].data["deadline_at"] == pytest.approx(late.deadline_at)


async def test_queued_and_started_together_record_one_event(engine: Engine) -> None:
    version, _ = await apply_workflow(
        engine.store,
        WorkflowSpec.model_validate(
            {
                "name": "one",
                "concurrency": 1,
                "tasks": [{"id": "a", "uses": "noop"}, {"id": "b", "uses": "noop"}],
            }
        ),
    )
    run = await engine.submit(version)
    await engine.wait(run.id)
    events = [(e.type, e.task_id) for e in await engine.store.list_events(run_id=run.id)]
    assert ("task.queued", "a") not in events  # queued and started in the same commit
    assert ("task.queued", "b") in events  # b waited for the run's only slot
    assert events.count(("task.started", "a")) == events.count(("task.started", "b")) == 1
