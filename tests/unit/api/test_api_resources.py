"""`/api/v1/resources`: pools, holders and waiting tasks; capacity overrides; refusals at apply."""

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

Start = Callable[..., Awaitable[dict[str, Any]]]

TWO_BUILDS = """\
name: builds
tasks:
  - {id: one, uses: sleep, with: {seconds: 30}, resources: {pools: {gradle: 1}}}
  - {id: two, uses: sleep, with: {seconds: 30}, resources: {pools: {gradle: 1}}}
"""


@pytest.fixture
def settings(basir_home: Path) -> Settings:
    """One `gradle` slot."""
    return Settings(
        home=basir_home, max_body_bytes=MAX_BODY_BYTES, shutdown_grace_s=0.0, pools="gradle=1"
    )


async def test_waiting_shows_everywhere_and_a_raised_capacity_starts_it(
    client: httpx.AsyncClient, make_client: Callable[..., httpx.AsyncClient], start: Start,
    engine: Engine,
) -> None:  # fmt: skip
    with engine.bus.subscribe(lambda e: e.type == "task.started") as started:
        run_id = (await start(TWO_BUILDS))["run_id"]
        first = (await asyncio.wait_for(started.get(), 10)).task_id
        second = "two" if first == "one" else "one"
        tasks = (await client.get(f"/api/v1/runs/{run_id}")).json()["tasks"]
        reason = f"waiting for gradle: 1/1 in use by run {run_id} task {first}"
        assert tasks[second]["waiting"] == reason
        assert "waiting" not in tasks[first]
        status = (await client.get("/api/v1/resources")).json()
        gradle = next(p for p in status["pools"] if p["name"] == "gradle")
        assert (gradle["capacity"], gradle["in_use"]) == (1, 1)
        assert gradle["holders"] == [{"run_id": run_id, "task_id": first, "amount": 1}]
        assert status["waiting"] == [
            {"run_id": run_id, "task_id": second, "pool": "gradle", "reason": reason,
             "reserved": False}
        ]  # fmt: skip
        assert {"cpu", "memory"} <= {p["name"] for p in status["pools"]}
        viewer = make_client("viewer")
        body = {"capacity": 2}
        assert_problem(
            await viewer.put("/api/v1/resources/pools/gradle", json=body), 403, "auth.forbidden"
        )
        changed = await client.put("/api/v1/resources/pools/gradle", json=body)
        assert changed.status_code == 200, changed.text
        assert changed.json()["capacity"] == 2
        assert (await asyncio.wait_for(started.get(), 10)).task_id == second
    assert await engine.store.kv_get("resource_pool", "gradle") == {"capacity": 2}
    status = (await client.get("/api/v1/resources")).json()
    assert status["waiting"] == []
    assert next(p for p in status["pools"] if p["name"] == "gradle")["in_use"] == 2
    await client.post(f"/api/v1/runs/{run_id}/cancel")
    await engine.wait(run_id)
    assert engine.flow.admission.allocator.held == {}


async def test_a_new_name_adds_a_custom_pool(client: httpx.AsyncClient) -> None:
    """Custom pools come from the API as from `BASIR_POOLS` (it said 404 pool_not_found)."""
    text = "name: gpu-job\ntasks:\n  - {id: a, run: x, resources: {pools: {gpu: 1}}}\n"
    headers = {"Content-Type": "application/yaml"}
    refused = await client.post("/api/v1/workflows", content=text, headers=headers)
    assert refused.status_code == 422  # no such pool yet
    for bad in (1.5, 0, "1Gi"):
        answer = await client.put("/api/v1/resources/pools/gpu", json={"capacity": bad})
        assert_problem(answer, 422, "resources.invalid_capacity")
    added = await client.put("/api/v1/resources/pools/gpu", json={"capacity": 2})
    assert added.status_code == 200, added.text
    assert added.json() == {
        "name": "gpu", "capacity": 2, "in_use": 0, "reserved": 0, "holders": [], "waiting": 0,
        "waited_s": 0.0,
    }  # fmt: skip
    pools = (await client.get("/api/v1/resources")).json()["pools"]
    assert {p["name"]: p["capacity"] for p in pools}["gpu"] == 2
    applied = await client.post("/api/v1/workflows", content=text, headers=headers)
    assert applied.status_code == 201, applied.text
    upper = await client.put("/api/v1/resources/pools/GPU", json={"capacity": 1})
    assert upper.status_code == 422


async def test_bad_capacity_changes_are_problems(client: httpx.AsyncClient) -> None:
    flag = await client.put("/api/v1/resources/pools/gradle", json={"capacity": True})
    assert_problem(flag, 422, "request.invalid")  # not a capacity of 1
    for bad in (0, 1.5, "lots"):
        answer = await client.put("/api/v1/resources/pools/gradle", json={"capacity": bad})
        assert_problem(answer, 422, "resources.invalid_capacity")
    memory = await client.put("/api/v1/resources/pools/memory", json={"capacity": "1Gi"})
    assert memory.json()["capacity"] == 1 << 30
    cpu = await client.put("/api/v1/resources/pools/cpu", json={"capacity": 0.5})
    assert cpu.json()["capacity"] == 0.5


async def test_a_request_that_can_never_fit_is_refused_at_apply(client: httpx.AsyncClient) -> None:
    text = "name: huge\ntasks:\n  - {id: a, run: x, resources: {pools: {gradle: 2}}}\n"
    answer = await client.post(
        "/api/v1/workflows", content=text, headers={"Content-Type": "application/yaml"}
    )
    problem = assert_problem(answer, 422, "spec.invalid")
    assert [(e["code"], e["field"]) for e in problem["errors"]] == [
        ("spec.resource_too_large", "tasks[0].resources.pools.gradle")
    ]
    assert (
        "task a asks for 2 of pool gradle, whose capacity is 1" in problem["errors"][0]["message"]
    )
    assert_problem(await client.get("/api/v1/workflows/huge"), 404, "workflow.not_found")
    # Applies check against the capacity as it is now, changes at run time included.
    assert (await client.put("/api/v1/resources/pools/gradle", json={"capacity": 2})).is_success
    again = await client.post(
        "/api/v1/workflows", content=text, headers={"Content-Type": "application/yaml"}
    )
    assert again.status_code == 201, again.text


async def test_added_tasks_that_could_never_fit_are_refused(
    client: httpx.AsyncClient, start: Start, engine: Engine
) -> None:
    run_id = (await start(TWO_BUILDS))["run_id"]
    body = {
        "tasks": [
            {"id": "huge", "uses": "noop", "resources": {"pools": {"gradle": 5}}},
            {"id": "gpu", "uses": "noop", "resources": {"pools": {"gpu": 1}}},
            {"id": "fine", "uses": "noop", "resources": {"cpu": 0.1}},
        ]
    }
    answer = await client.patch(f"/api/v1/runs/{run_id}", json=body)
    problem = assert_problem(answer, 422, "run.invalid_patch")
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [
        ("tasks[0].resources.pools.gradle", "spec.resource_too_large"),
        ("tasks[1].resources.pools.gpu", "spec.unknown_pool"),
    ]
    assert (
        "task huge asks for 5 of pool gradle, whose capacity is 1"
        in problem["errors"][0]["message"]
    )
    assert "huge" not in (await client.get(f"/api/v1/runs/{run_id}")).json()["tasks"]
    await client.post(f"/api/v1/runs/{run_id}/cancel")
    await engine.wait(run_id)


async def test_a_waiting_reason_is_shown_in_the_language_of_the_request(
    client: httpx.AsyncClient, start: Start, engine: Engine
) -> None:
    with engine.bus.subscribe(lambda e: e.type == "task.started") as started:
        run_id = (await start(TWO_BUILDS))["run_id"]
        first = (await asyncio.wait_for(started.get(), 10)).task_id
        second = "two" if first == "one" else "one"
        arabic = {"Accept-Language": "ar"}
        english = f"waiting for gradle: 1/1 in use by run {run_id} task {first}"
        translated = f"في انتظار gradle: 1/1 قيد الاستخدام لدى التشغيل {run_id} المهمة {first}"
        run = (await client.get(f"/api/v1/runs/{run_id}")).json()
        assert run["tasks"][second]["waiting"] == english
        run = (await client.get(f"/api/v1/runs/{run_id}", headers=arabic)).json()
        assert run["tasks"][second]["waiting"] == translated
        status = (await client.get("/api/v1/resources", headers=arabic)).json()
        assert [w["reason"] for w in status["waiting"]] == [translated]
        status = (await client.get("/api/v1/resources", headers={"Accept-Language": "en"})).json()
        assert [w["reason"] for w in status["waiting"]] == [english]
        # The row keeps the message, not one language's text.
        row = next(t for t in await engine.store.get_tasks(run_id) if t.task_id == second)
        assert row.waiting is not None and row.waiting.startswith('{"m":"waiting for {pool}')
    await client.post(f"/api/v1/runs/{run_id}/cancel")
    await engine.wait(run_id)
