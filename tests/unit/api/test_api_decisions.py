"""`/api/v1/decisions`: one run per decision id, however often it is sent."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from api_helpers import HELLO_YAML, assert_problem

from basir.coordinator.callback_delivery import CALLBACK_KIND
from basir.coordinator.decisions import DECISION_KIND, decision_run_id
from basir.engine.runtime import Engine
from basir.store.memory import MemoryStore

Apply = Callable[[str], Awaitable[dict[str, Any]]]
DECISION = {"decision_id": "l2-42", "workflow": "hello", "params": {"who": "L2"}}


async def test_a_decision_starts_one_run(
    client: httpx.AsyncClient, apply: Apply, engine: Engine
) -> None:
    await apply(HELLO_YAML)
    first = await client.post("/api/v1/decisions", json=DECISION)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["decision_id"] == "l2-42"
    assert body["run_id"] == decision_run_id("l2-42")
    assert body["status"] in ("queued", "running", "succeeded")
    assert first.headers["location"] == "/api/v1/decisions/l2-42"
    again = await client.post("/api/v1/decisions", json=DECISION)
    assert again.status_code == 200
    assert again.json()["run_id"] == body["run_id"]
    await engine.wait(body["run_id"])
    listed = (await client.get("/api/v1/runs")).json()["items"]
    assert len(listed) == 1
    assert listed[0]["trigger"] == "decision"


async def test_concurrent_repeats_start_one_run(
    client: httpx.AsyncClient, apply: Apply, engine: Engine
) -> None:
    await apply(HELLO_YAML)
    responses = await asyncio.gather(
        *(client.post("/api/v1/decisions", json=DECISION) for _ in range(5))
    )
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 200, 201]
    assert len({r.json()["run_id"] for r in responses}) == 1
    assert len((await client.get("/api/v1/runs")).json()["items"]) == 1
    await engine.wait(responses[0].json()["run_id"])


async def test_same_id_different_content_is_409(client: httpx.AsyncClient, apply: Apply) -> None:
    await apply(HELLO_YAML)
    await client.post("/api/v1/decisions", json=DECISION)
    changed = {**DECISION, "params": {"who": "someone else"}}
    assert_problem(await client.post("/api/v1/decisions", json=changed), 409, "decision.conflict")


async def test_rejected_decision_may_be_corrected(
    client: httpx.AsyncClient, apply: Apply, engine: Engine
) -> None:
    await apply(HELLO_YAML)
    bad = {**DECISION, "params": {"nope": 1}}
    assert_problem(await client.post("/api/v1/decisions", json=bad), 422, "run.invalid_params")
    shown = (await client.get("/api/v1/decisions/l2-42")).json()
    assert shown["status"] == "rejected"
    assert shown["error"]["code"] == "run.invalid_params"
    fixed = await client.post("/api/v1/decisions", json=DECISION)
    assert fixed.status_code == 201
    await engine.wait(fixed.json()["run_id"])


async def test_unknown_workflow_leaves_no_trace(client: httpx.AsyncClient) -> None:
    assert_problem(await client.post("/api/v1/decisions", json=DECISION), 404, "workflow.not_found")
    assert_problem(await client.get("/api/v1/decisions/l2-42"), 404, "decision.not_found")


async def test_show_reports_status_then_outcome(
    client: httpx.AsyncClient, apply: Apply, engine: Engine
) -> None:
    await apply(HELLO_YAML)
    started = (
        await client.post(
            "/api/v1/decisions",
            json={
                **DECISION,
                "priority": "critical",
                "deadline": "1h",
            },
        )
    ).json()
    await engine.wait(started["run_id"])
    shown = (await client.get("/api/v1/decisions/l2-42")).json()
    assert shown["status"] == "succeeded"
    assert shown["workflow"] == "hello"
    assert shown["created_by"] == "admin"
    assert shown["callback_url"] is None
    assert shown["created_at"].endswith("Z")
    outcome = shown["outcome"]
    assert outcome["status"] == "succeeded"
    assert outcome["tasks"]["greet"]["outputs"] == {"message": "hi L2"}
    assert outcome["priority"] == 90


async def test_validation(client: httpx.AsyncClient) -> None:
    problem = assert_problem(
        await client.post("/api/v1/decisions", json={"decision_id": "bad id!", "workflow": "w"}),
        422,
        "request.invalid",
    )
    assert problem["errors"][0]["field"] == "body.decision_id"
    problem = assert_problem(
        await client.post("/api/v1/decisions", json={**DECISION, "callback_url": "ftp://nope"}),
        422,
        "request.invalid",
    )
    assert problem["errors"][0]["field"] == "body.callback_url"


async def test_callback_url_is_accepted_and_its_delivery_shown(
    client: httpx.AsyncClient, apply: Apply, engine: Engine, store: MemoryStore
) -> None:
    await apply(HELLO_YAML)
    body = {**DECISION, "callback_url": "https://l2.example/callback"}
    started = await client.post("/api/v1/decisions", json=body)
    assert started.status_code == 201, started.text
    await engine.wait(started.json()["run_id"])
    shown = (await client.get("/api/v1/decisions/l2-42")).json()
    assert shown["callback_url"] == "https://l2.example/callback"
    # No callback service runs beside this app: the delivery waits in the store.
    assert shown["callback"]["state"] == "waiting"
    assert shown["callback"]["attempts"] == 0
    assert await store.kv_get(CALLBACK_KIND, started.json()["run_id"]) is not None


async def test_bad_callback_urls_are_refused_in_the_callers_language(
    client: httpx.AsyncClient, apply: Apply, store: MemoryStore
) -> None:
    await apply(HELLO_YAML)
    cases = {
        "https://user:secret@l2.example/cb": "credentials",
        "gopher://l2.example/cb": "http or https",
        "https://l2.example/" + "x" * 2100: "2048",
    }
    for url, fragment in cases.items():
        problem = assert_problem(
            await client.post("/api/v1/decisions", json={**DECISION, "callback_url": url}),
            422,
            "request.invalid",
        )
        [error] = problem["errors"]
        assert error["field"] == "body.callback_url"
        assert fragment in error["message"]
    arabic = await client.post(
        "/api/v1/decisions",
        json={**DECISION, "callback_url": "https://user:secret@l2.example/cb"},
        headers={"Accept-Language": "ar"},
    )
    assert "بيانات" in arabic.json()["errors"][0]["message"]
    assert_problem(await client.get("/api/v1/decisions/l2-42"), 404, "decision.not_found")
    assert (await store.list_runs()).items == []


async def test_crash_after_submit_is_completed_not_repeated(
    client: httpx.AsyncClient, apply: Apply, store: MemoryStore, engine: Engine
) -> None:
    """A reservation whose run exists (process died before recording it) finds that run."""
    await apply(HELLO_YAML)
    first = (await client.post("/api/v1/decisions", json=DECISION)).json()
    document = await store.kv_get(DECISION_KIND, "l2-42")
    assert document is not None
    await store.kv_put(DECISION_KIND, "l2-42", {**document, "state": "reserved", "run_id": None})
    again = await client.post("/api/v1/decisions", json=DECISION)
    assert again.status_code == 200
    assert again.json()["run_id"] == first["run_id"]
    await engine.wait(first["run_id"])


async def test_abandoned_reservation_is_taken_over(
    client: httpx.AsyncClient, apply: Apply, store: MemoryStore, engine: Engine
) -> None:
    await apply(HELLO_YAML)
    reservation = await client.post("/api/v1/decisions", json=DECISION)
    run_id = reservation.json()["run_id"]
    await engine.wait(run_id)
    # A reservation from long ago, for a different decision whose run never started.
    await store.kv_put(
        DECISION_KIND,
        "l2-43",
        {"state": "reserved", "run_id": None, "created_at": time.time() - 3600, "fingerprint": "x"},
    )
    taken = await client.post("/api/v1/decisions", json={**DECISION, "decision_id": "l2-43"})
    assert taken.status_code == 201
    await engine.wait(taken.json()["run_id"])
