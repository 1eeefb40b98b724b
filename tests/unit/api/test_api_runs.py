"""`/api/v1/runs`: start, list (paged, filtered, cached), show, pause/resume/cancel/retry, PATCH."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from api_helpers import FAILING_YAML, HELLO_YAML, SLOW_YAML, ClientFactory, assert_problem

from basir.engine.runtime import Engine

Start = Callable[..., Awaitable[dict[str, Any]]]
Apply = Callable[[str], Awaitable[dict[str, Any]]]


async def _status(client: httpx.AsyncClient, run_id: str) -> str:
    status: str = (await client.get(f"/api/v1/runs/{run_id}")).json()["status"]
    return status


async def _wait_task(client: httpx.AsyncClient, run_id: str, task: str, status: str) -> None:
    for _ in range(200):
        run = (await client.get(f"/api/v1/runs/{run_id}")).json()
        if run["tasks"][task]["status"] == status:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{task} never became {status}: {run}")


async def test_start_returns_the_run_with_location(
    client: httpx.AsyncClient, apply: Apply, engine: Engine
) -> None:
    await apply(HELLO_YAML)
    response = await client.post(
        "/api/v1/workflows/hello/runs",
        json={"params": {"who": "Basir"}, "priority": "high", "deadline": "5m"},
    )
    assert response.status_code == 201, response.text
    run = response.json()
    assert response.headers["location"] == f"/api/v1/runs/{run['run_id']}"
    assert run["workflow"] == "hello" and run["version"] == 1
    assert run["priority"] == 70
    assert run["created_by"] == "admin"
    assert run["deadline_at"] is not None
    assert set(run["tasks"]) == {"greet", "after"}
    await engine.wait(run["run_id"])
    shown = (await client.get(f"/api/v1/runs/{run['run_id']}")).json()
    assert shown["status"] == "succeeded"
    assert shown["tasks"]["greet"]["outputs"] == {"message": "hi Basir"}
    assert shown["tasks"]["greet"]["attempts"] == 1
    assert shown["params"] == {"who": "Basir"}
    for key in ("created_at", "started_at", "finished_at"):
        assert shown[key].endswith("Z")


async def test_start_pins_a_version(client: httpx.AsyncClient, apply: Apply) -> None:
    await apply(HELLO_YAML)
    await apply(HELLO_YAML.replace("world", "all"))
    run = (await client.post("/api/v1/workflows/hello/runs", json={"version": 1})).json()
    assert run["version"] == 1
    latest = (await client.post("/api/v1/workflows/hello/runs", json={})).json()
    assert latest["version"] == 2


async def test_start_errors(client: httpx.AsyncClient, apply: Apply) -> None:
    assert_problem(
        await client.post("/api/v1/workflows/ghost/runs", json={}), 404, "workflow.not_found"
    )
    await apply(HELLO_YAML)
    assert_problem(
        await client.post("/api/v1/workflows/hello/runs", json={"version": 9}),
        404,
        "workflow.version_not_found",
    )
    problem = assert_problem(
        await client.post("/api/v1/workflows/hello/runs", json={"params": {"nope": 1}}),
        422,
        "run.invalid_params",
    )
    assert problem["errors"]
    problem = assert_problem(
        await client.post("/api/v1/workflows/hello/runs", json={"priority": 101}),
        422,
        "request.invalid",
    )
    assert problem["errors"][0]["field"] == "body.priority"
    problem = assert_problem(
        await client.post("/api/v1/workflows/hello/runs", json={"deadline": "soon"}),
        422,
        "request.invalid",
    )
    assert problem["errors"][0]["field"] == "body.deadline"


async def test_list_pages_newest_first_and_filters(
    client: httpx.AsyncClient, apply: Apply, engine: Engine
) -> None:
    await apply(HELLO_YAML)
    await apply(FAILING_YAML)
    ids = []
    for name in ("hello", "failing", "hello"):
        run = (await client.post(f"/api/v1/workflows/{name}/runs", json={})).json()
        ids.append(run["run_id"])
        await engine.wait(run["run_id"])
    page = (await client.get("/api/v1/runs?limit=2")).json()
    assert [r["run_id"] for r in page["items"]] == ids[::-1][:2]
    assert page["next"]
    rest = (await client.get("/api/v1/runs", params={"limit": 2, "cursor": page["next"]})).json()
    assert [r["run_id"] for r in rest["items"]] == [ids[0]]
    assert rest["next"] is None
    failed = (await client.get("/api/v1/runs?status=failed")).json()["items"]
    assert [r["run_id"] for r in failed] == [ids[1]]
    hello = (await client.get("/api/v1/runs?workflow=hello")).json()["items"]
    assert {r["run_id"] for r in hello} == {ids[0], ids[2]}
    item = hello[0]
    assert set(item) >= {"run_id", "workflow", "version", "status", "priority", "created_at"}


async def test_list_sees_new_runs_at_once(
    client: httpx.AsyncClient, apply: Apply, engine: Engine
) -> None:
    await apply(HELLO_YAML)
    assert (await client.get("/api/v1/runs")).json()["items"] == []
    run = (await client.post("/api/v1/workflows/hello/runs", json={})).json()
    listed = (await client.get("/api/v1/runs")).json()["items"]
    assert [r["run_id"] for r in listed] == [run["run_id"]]
    await engine.wait(run["run_id"])
    assert (await client.get("/api/v1/runs")).json()["items"][0]["status"] == "succeeded"


async def test_bad_cursor_is_400(client: httpx.AsyncClient) -> None:
    problem = assert_problem(
        await client.get("/api/v1/runs?cursor=not-a-cursor"), 400, "request.invalid_cursor"
    )
    assert problem["errors"][0]["field"] == "query.cursor"


async def test_unknown_run_is_404(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/api/v1/runs/ghost"), 404, "run.not_found")
    for action in ("pause", "resume", "cancel", "retry"):
        assert_problem(await client.post(f"/api/v1/runs/ghost/{action}"), 404, "run.not_found")
    assert_problem(
        await client.patch("/api/v1/runs/ghost", json={"tasks": [{"id": "x", "uses": "noop"}]}),
        404,
        "run.not_found",
    )


async def test_pause_resume_cancel(client: httpx.AsyncClient, start: Start, engine: Engine) -> None:
    run = await start(SLOW_YAML)
    run_id = run["run_id"]
    paused = (await client.post(f"/api/v1/runs/{run_id}/pause")).json()
    assert paused["status"] == "paused"
    resumed = (await client.post(f"/api/v1/runs/{run_id}/resume")).json()
    assert resumed["status"] == "running"
    await _wait_task(client, run_id, "first", "running")
    response = await client.post(f"/api/v1/runs/{run_id}/cancel")
    assert response.status_code == 200
    final = await asyncio.wait_for(engine.wait(run_id), 10)
    assert final.status == "cancelled"
    shown = (await client.get(f"/api/v1/runs/{run_id}")).json()
    assert shown["tasks"]["first"]["status"] == "cancelled"
    assert shown["tasks"]["second"]["status"] == "cancelled"
    assert_problem(await client.post(f"/api/v1/runs/{run_id}/pause"), 409, "run.not_active")


async def test_retry_a_failed_run_in_place(
    client: httpx.AsyncClient, start: Start, engine: Engine
) -> None:
    run = await start(FAILING_YAML)
    await engine.wait(run["run_id"])
    assert await _status(client, run["run_id"]) == "failed"
    response = await client.post(f"/api/v1/runs/{run['run_id']}/retry")
    assert response.status_code == 200, response.text
    assert response.json()["run_id"] == run["run_id"]
    final = await engine.wait(run["run_id"])
    assert final.status == "failed"
    shown = (await client.get(f"/api/v1/runs/{run['run_id']}")).json()
    assert shown["tasks"]["boom"]["attempts"] == 1  # reset, then tried once more


async def test_retry_errors(client: httpx.AsyncClient, start: Start, engine: Engine) -> None:
    slow = await start(SLOW_YAML)
    assert_problem(
        await client.post(f"/api/v1/runs/{slow['run_id']}/retry"), 409, "run.not_finished"
    )
    hello = await start(HELLO_YAML)
    await engine.wait(hello["run_id"])
    assert_problem(
        await client.post(f"/api/v1/runs/{hello['run_id']}/retry"), 409, "run.nothing_to_retry"
    )


async def test_patch_adds_tasks_to_a_live_run(
    client: httpx.AsyncClient, start: Start, engine: Engine
) -> None:
    run = await start(SLOW_YAML)
    run_id = run["run_id"]
    await client.post(f"/api/v1/runs/{run_id}/pause")
    body = {"tasks": [{"id": "extra", "needs": ["second"], "uses": "noop"}]}
    response = await client.patch(f"/api/v1/runs/{run_id}", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["tasks"]["extra"]["status"] == "pending"
    await client.post(f"/api/v1/runs/{run_id}/cancel")


async def test_patch_validation(client: httpx.AsyncClient, start: Start) -> None:
    run = await start(SLOW_YAML)
    run_id = run["run_id"]
    two_bodies = {"tasks": [{"id": "ok", "uses": "noop"}, {"id": "x", "uses": "noop", "run": "ls"}]}
    problem = assert_problem(
        await client.patch(f"/api/v1/runs/{run_id}", json=two_bodies), 422, "run.invalid_tasks"
    )
    assert problem["errors"][0]["field"].startswith("body.tasks[1]")
    problem = assert_problem(
        await client.patch(f"/api/v1/runs/{run_id}", json={"tasks": []}), 422, "request.invalid"
    )
    assert problem["errors"][0]["field"] == "body.tasks"
    unknown_need = {"tasks": [{"id": "y", "needs": ["ghost"], "uses": "noop"}]}
    response = await client.patch(f"/api/v1/runs/{run_id}", json=unknown_need)
    assert response.status_code == 422
    await client.post(f"/api/v1/runs/{run_id}/cancel")


async def test_viewer_cannot_control(make_client: ClientFactory, start: Start) -> None:
    run = await start(SLOW_YAML)
    viewer = make_client("viewer")
    assert (await viewer.get(f"/api/v1/runs/{run['run_id']}")).status_code == 200
    for action in ("pause", "resume", "cancel", "retry"):
        assert_problem(
            await viewer.post(f"/api/v1/runs/{run['run_id']}/{action}"), 403, "auth.forbidden"
        )
    assert_problem(await viewer.post("/api/v1/workflows/slow/runs", json={}), 403, "auth.forbidden")
    await make_client("operator").post(f"/api/v1/runs/{run['run_id']}/cancel")
