"""A run whose task could never start is refused (422), not left waiting for ever: a stored
version run after a pool was lowered, or a task needing more than its namespace's quota allows
at once (refused at apply too); tasks already waiting keep waiting, with their reason."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import MAX_BODY_BYTES, assert_problem

from basir.config import Settings
from basir.engine.runtime import Engine

Apply = Callable[[str], Awaitable[dict[str, Any]]]
BUILDS = "name: builds\ntasks:\n  - {id: build, uses: noop, resources: {pools: {gradle: 2}}}\n"
HEAVY = """\
name: heavy
namespace: qa
tasks:
  - {id: big, run: 'true', resources: {memory: 200Mi}}
"""
PAIR = """\
name: pair
namespace: qa
tasks:
  - {id: first, uses: sleep, with: {seconds: 30}, resources: {memory: 64Mi}, priority: high}
  - {id: second, uses: sleep, with: {seconds: 30}, resources: {memory: 200Mi}}
"""


@pytest.fixture
def settings(basir_home: Path) -> Settings:
    """Two `gradle` slots."""
    return Settings(
        home=basir_home, max_body_bytes=MAX_BODY_BYTES, shutdown_grace_s=0.0, pools="gradle=2"
    )


def _problems(problem: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["code"], e["field"]) for e in problem["errors"]]


async def _runs(client: httpx.AsyncClient) -> list[Any]:
    items: list[Any] = (await client.get("/api/v1/runs")).json()["items"]
    return items


async def test_a_stored_version_that_no_longer_fits_the_pools_is_refused(
    client: httpx.AsyncClient, apply: Apply
) -> None:
    await apply(BUILDS)
    assert (await client.put("/api/v1/resources/pools/gradle", json={"capacity": 1})).is_success
    answer = await client.post("/api/v1/workflows/builds/runs", json={})
    problem = assert_problem(answer, 422, "spec.invalid")
    assert _problems(problem) == [("spec.resource_too_large", "tasks[0].resources.pools.gradle")]
    assert "asks for 2 of pool gradle, whose capacity is 1" in problem["errors"][0]["message"]
    later = {"run_at": "2099-01-01T00:00:00Z"}
    assert (await client.post("/api/v1/workflows/builds/runs", json=later)).status_code == 202
    assert await _runs(client) == []
    decision = {"decision_id": "d-1", "workflow": "builds"}
    assert_problem(await client.post("/api/v1/decisions", json=decision), 422, "spec.invalid")
    assert await _runs(client) == []
    assert (await client.put("/api/v1/resources/pools/gradle", json={"capacity": 2})).is_success
    assert (await client.post("/api/v1/workflows/builds/runs", json={})).status_code == 201


async def test_a_task_over_its_namespace_quota_is_refused_at_apply(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.put("/api/v1/resources/quotas/qa", json={"memory": "100Mi"})).is_success
    answer = await client.post(
        "/api/v1/workflows", content=HEAVY, headers={"Content-Type": "application/yaml"}
    )
    problem = assert_problem(answer, 422, "spec.invalid")
    assert _problems(problem) == [("spec.quota_too_small", "tasks[0].resources.memory")]
    assert problem["errors"][0]["message"] == (
        "task big asks for 200Mi of memory, more than the quota of namespace qa allows at once"
        " (100Mi); it could never start: raise the quota with basir resources quota set,"
        " or ask for less"
    )
    assert_problem(await client.get("/api/v1/workflows/heavy"), 404, "workflow.not_found")


async def test_a_run_over_a_quota_set_after_apply_is_refused(
    client: httpx.AsyncClient, apply: Apply
) -> None:
    await apply(HEAVY)
    assert (await client.put("/api/v1/resources/quotas/qa", json={"cpu": 4})).is_success
    assert (await client.post("/api/v1/workflows/heavy/runs", json={})).status_code == 201
    assert (await client.put("/api/v1/resources/quotas/qa", json={"memory": "100Mi"})).is_success
    answer = await client.post("/api/v1/workflows/heavy/runs", json={})
    problem = assert_problem(answer, 422, "spec.invalid")
    assert _problems(problem) == [("spec.quota_too_small", "tasks[0].resources.memory")]
    assert len(await _runs(client)) == 1


async def test_a_task_already_waiting_keeps_waiting_with_its_reason_when_the_quota_drops(
    client: httpx.AsyncClient, apply: Apply, engine: Engine
) -> None:
    quota = {"tasks": 1, "memory": "1Gi"}
    assert (await client.put("/api/v1/resources/quotas/qa", json=quota)).is_success
    await apply(PAIR)
    with engine.bus.subscribe(lambda e: e.type == "task.started") as started:
        run_id = (await client.post("/api/v1/workflows/pair/runs", json={})).json()["run_id"]
        assert (await asyncio.wait_for(started.get(), 10)).task_id == "first"
    before = (await client.get(f"/api/v1/runs/{run_id}")).json()["tasks"]["second"]
    assert before["waiting"] == "waiting for quota of namespace qa: 1/1 tasks running"
    lowered = {"tasks": 2, "memory": "100Mi"}
    assert (await client.put("/api/v1/resources/quotas/qa", json=lowered)).is_success
    reason = (
        "waiting for quota of namespace qa: needs 200Mi of memory, more than its quota of"
        " 100Mi allows at once; raise it with basir resources quota set"
    )
    for _ in range(200):  # re-offered by the engine's pump after the change
        second = (await client.get(f"/api/v1/runs/{run_id}")).json()["tasks"]["second"]
        if second.get("waiting") == reason:
            break
        await asyncio.sleep(0.01)
    assert second["status"] == "queued"  # still waiting, neither failed nor cancelled
    assert second.get("waiting") == reason
    assert_problem(await client.post("/api/v1/workflows/pair/runs", json={}), 422, "spec.invalid")
    await client.post(f"/api/v1/runs/{run_id}/cancel")
    await engine.wait(run_id)


async def test_added_tasks_over_the_namespace_quota_are_refused(
    client: httpx.AsyncClient, apply: Apply, engine: Engine
) -> None:
    assert (await client.put("/api/v1/resources/quotas/qa", json={"memory": "1Gi"})).is_success
    await apply(PAIR)
    run_id = (await client.post("/api/v1/workflows/pair/runs", json={})).json()["run_id"]
    body = {"tasks": [{"id": "huge", "uses": "noop", "resources": {"memory": "2Gi"}}]}
    answer = await client.patch(f"/api/v1/runs/{run_id}", json=body)
    problem = assert_problem(answer, 422, "run.invalid_patch")
    assert _problems(problem) == [("spec.quota_too_small", "tasks[0].resources.memory")]
    assert "huge" not in (await client.get(f"/api/v1/runs/{run_id}")).json()["tasks"]
    await client.post(f"/api/v1/runs/{run_id}/cancel")
    await engine.wait(run_id)
