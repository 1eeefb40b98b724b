"""`/api/v1/resources/quotas/{namespace}`: over quota a task queues (with its reason) or a run is
refused (429), by policy; changes apply at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from api_helpers import assert_problem

from basir.engine.runtime import Engine

Start = Callable[..., Awaitable[dict[str, Any]]]

TWO = """\
name: pair
namespace: mobile
tasks:
  - {id: one, uses: sleep, with: {seconds: 30}}
  - {id: two, uses: sleep, with: {seconds: 30}}
"""
ONE = "name: solo\nnamespace: mobile\ntasks:\n  - {id: a, uses: sleep, with: {seconds: 30}}\n"


async def test_over_quota_a_task_waits_with_its_reason_until_raised(
    client: httpx.AsyncClient, start: Start, engine: Engine
) -> None:
    answer = await client.put("/api/v1/resources/quotas/mobile", json={"tasks": 1, "cpu": 2})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"namespace": "mobile", "tasks": 1, "cpu": 2.0, "memory": None,
                             "runs": None, "runs_per_hour": None, "policy": "queue",
                             "weight": 1}  # fmt: skip
    with engine.bus.subscribe(lambda e: e.type == "task.started") as started:
        run_id = (await start(TWO))["run_id"]
        first = (await asyncio.wait_for(started.get(), 10)).task_id
        second = "two" if first == "one" else "one"
        tasks = (await client.get(f"/api/v1/runs/{run_id}")).json()["tasks"]
        assert (
            tasks[second]["waiting"] == "waiting for quota of namespace mobile: 1/1 tasks running"
        )
        status = (await client.get("/api/v1/resources")).json()
        assert [w["pool"] for w in status["waiting"]] == ["quota:mobile"]
        quota = (await client.get("/api/v1/resources/quotas/mobile")).json()
        assert quota["in_use"] == {"tasks": 1, "cpu": 0.0, "memory": 0, "runs": 1,
                                   "runs_past_hour": 0}  # fmt: skip
        raised = await client.put("/api/v1/resources/quotas/mobile", json={"tasks": 2})
        assert raised.status_code == 200
        assert (await asyncio.wait_for(started.get(), 10)).task_id == second
    listed = (await client.get("/api/v1/resources/quotas")).json()
    assert [q["namespace"] for q in listed] == ["mobile"]
    await client.post(f"/api/v1/runs/{run_id}/cancel")
    await engine.wait(run_id)


async def test_queue_policy_holds_a_second_run_until_the_first_ends(
    client: httpx.AsyncClient, start: Start, engine: Engine
) -> None:
    assert (await client.put("/api/v1/resources/quotas/mobile", json={"runs": 1})).is_success
    first = (await start(ONE))["run_id"]
    second = (await start(ONE))["run_id"]
    task = (await client.get(f"/api/v1/runs/{second}")).json()["tasks"]["a"]
    assert task["waiting"] == "waiting for quota of namespace mobile: 1/1 runs active"
    with engine.bus.subscribe(lambda e: e.type == "task.started") as started:
        await client.post(f"/api/v1/runs/{first}/cancel")
        assert (await asyncio.wait_for(started.get(), 10)).run_id == second
    await client.post(f"/api/v1/runs/{second}/cancel")
    await engine.wait(second)


async def test_refuse_policy_answers_429_and_stores_nothing(
    client: httpx.AsyncClient, start: Start, engine: Engine
) -> None:
    body = {"runs": 1, "policy": "refuse"}
    assert (await client.put("/api/v1/resources/quotas/mobile", json=body)).is_success
    first = (await start(ONE))["run_id"]
    refused = await client.post("/api/v1/workflows/solo/runs", json={})
    problem = assert_problem(refused, 429, "quota.exceeded")
    assert "namespace mobile" in problem["detail"] and "1/1 runs active" in problem["detail"]
    runs = (await client.get("/api/v1/runs")).json()
    assert [r["run_id"] for r in runs["items"]] == [first]
    await client.post(f"/api/v1/runs/{first}/cancel")
    await engine.wait(first)
    again = await client.post("/api/v1/workflows/solo/runs", json={})
    assert again.status_code == 201, again.text
    await client.post(f"/api/v1/runs/{again.json()['run_id']}/cancel")
    await engine.wait(again.json()["run_id"])


async def test_bad_quotas_and_roles(
    client: httpx.AsyncClient, make_client: Callable[..., httpx.AsyncClient]
) -> None:
    for bad in ({"tasks": 0}, {"policy": "drop"}, {"weight": 0}, {"memory": "lots"}):
        answer = await client.put("/api/v1/resources/quotas/mobile", json=bad)
        assert_problem(answer, 422, "quota.invalid")
    assert_problem(
        await client.put("/api/v1/resources/quotas/mobile", json={"burst": 1}),
        422,
        "request.invalid",
    )
    for flag in ({"tasks": True}, {"cpu": True}, {"runs": 1.5}):  # not 1, nor a whole count
        answer = await client.put("/api/v1/resources/quotas/mobile", json=flag)
        assert_problem(answer, 422, "request.invalid")
    assert_problem(await client.get("/api/v1/resources/quotas/mobile"), 404, "quota.not_found")
    operator = make_client("operator")
    answer = await operator.put("/api/v1/resources/quotas/mobile", json={"tasks": 1})
    assert_problem(answer, 403, "auth.forbidden")
    assert (await operator.get("/api/v1/resources/quotas")).json() == []
