"""`/api/v1/resources/reservations`: 201/422/404, and admission keeps others out in a window."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import MAX_BODY_BYTES, assert_problem

from basir.config import Settings
from basir.engine.runtime import Engine

Start = Callable[..., Awaitable[dict[str, Any]]]

BUILD = """\
name: {name}
namespace: {namespace}
tasks:
  - {{id: build, uses: sleep, with: {{seconds: {seconds}}}, resources: {{pools: {{gradle: 1}}}}}}
"""


def build(name: str, namespace: str, seconds: float = 30) -> str:
    return BUILD.format(name=name, namespace=namespace, seconds=seconds)


def iso(instant: float) -> str:
    return datetime.fromtimestamp(instant, UTC).isoformat()


@pytest.fixture
def settings(basir_home: Path) -> Settings:
    """One `gradle` slot."""
    return Settings(
        home=basir_home, max_body_bytes=MAX_BODY_BYTES, shutdown_grace_s=0.0, pools="gradle=1"
    )


async def test_a_reservation_keeps_others_out_until_deleted(
    client: httpx.AsyncClient, start: Start, engine: Engine
) -> None:
    now = time.time()
    body = {"pool": "gradle", "amount": 1, "namespace": "release",
            "from": iso(now - 60), "to": iso(now + 3600)}  # fmt: skip
    created = await client.post("/api/v1/resources/reservations", json=body)
    assert created.status_code == 201, created.text
    reservation = created.json()
    assert reservation["active"] is True and reservation["namespace"] == "release"
    listed = (await client.get("/api/v1/resources/reservations")).json()
    assert [r["id"] for r in listed] == [reservation["id"]]
    with engine.bus.subscribe(lambda e: e.type == "task.started") as started:
        other = (await start(build("other", "default")))["run_id"]
        # The only slot is reserved for `release`: the task waits, saying so.
        task = (await client.get(f"/api/v1/runs/{other}")).json()["tasks"]["build"]
        assert task["waiting"].startswith("waiting for gradle: 1 reserved for namespace release")
        status = (await client.get("/api/v1/resources")).json()
        gradle = next(p for p in status["pools"] if p["name"] == "gradle")
        assert (gradle["capacity"], gradle["in_use"], gradle["reserved"]) == (1, 0, 1)
        assert [w["pool"] for w in status["waiting"]] == ["gradle"]
        # The holder uses it inside the window.
        mine = (await start(build("mine", "release", seconds=0)))["run_id"]
        assert (await asyncio.wait_for(started.get(), 10)).run_id == mine
        assert (await engine.wait(mine)).status == "succeeded"
        task = (await client.get(f"/api/v1/runs/{other}")).json()["tasks"]["build"]
        assert task["status"] == "queued" and "reserved" in task["waiting"]
        deleted = await client.delete(f"/api/v1/resources/reservations/{reservation['id']}")
        assert deleted.status_code == 204
        assert (await asyncio.wait_for(started.get(), 10)).run_id == other
    await client.post(f"/api/v1/runs/{other}/cancel")
    await engine.wait(other)
    assert_problem(
        await client.delete(f"/api/v1/resources/reservations/{reservation['id']}"),
        404,
        "reservation.not_found",
    )


async def test_a_recurring_window_in_force_now_holds_and_then_lets_go(
    client: httpx.AsyncClient, start: Start, engine: Engine
) -> None:
    opened = datetime.fromtimestamp(time.time() - 1, UTC)
    cron = f"{opened.second} {opened.minute} {opened.hour} * * *"  # seconds first: 1-2 s ago
    body = {"pool": "gradle", "amount": 1, "workflow": "nightly", "cron": cron,
            "duration": 3.5, "timezone": "UTC"}  # fmt: skip
    created = await client.post("/api/v1/resources/reservations", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["active"] is True
    with engine.bus.subscribe(lambda e: e.type == "task.started") as started:
        run_id = (await start(build("other", "default", seconds=0)))["run_id"]
        waiting = (await client.get(f"/api/v1/runs/{run_id}")).json()["tasks"]["build"]
        assert "reserved for workflow nightly" in waiting.get("waiting", ""), waiting
        # When the window closes the task is offered again by itself.
        assert (await asyncio.wait_for(started.get(), 10)).run_id == run_id
    assert (await engine.wait(run_id)).status == "succeeded"


async def test_bad_and_overlapping_reservations_are_problems(client: httpx.AsyncClient) -> None:
    now = time.time()
    window = {"from": iso(now + 3600), "to": iso(now + 7200)}
    first = {"pool": "gradle", "amount": 1, "namespace": "release", **window}
    assert (await client.post("/api/v1/resources/reservations", json=first)).status_code == 201
    overlapping = {"pool": "gradle", "amount": 1, "workflow": "w", "cron": "*/30 * * * *",
                   "duration": "10m"}  # fmt: skip
    answer = await client.post("/api/v1/resources/reservations", json=overlapping)
    assert_problem(answer, 422, "reservation.invalid")  # opens 17,568 times a year
    overlapping.update(cron="0 */6 * * *", duration="6h")  # always in force: meets `first`
    problem = assert_problem(
        await client.post("/api/v1/resources/reservations", json=overlapping),
        422,
        "reservation.overcommitted",
    )
    assert "more than its capacity 1" in problem["detail"]
    both = {**first, "workflow": "w"}
    assert_problem(
        await client.post("/api/v1/resources/reservations", json=both), 422, "reservation.invalid"
    )
    too_much = {**first, "amount": 2}
    assert_problem(
        await client.post("/api/v1/resources/reservations", json=too_much),
        422,
        "reservation.invalid_amount",
    )
    missing = {**first, "pool": "gpu"}
    assert_problem(
        await client.post("/api/v1/resources/reservations", json=missing),
        404,
        "resources.pool_not_found",
    )
    flag = {**first, "amount": True}  # JSON true is not an amount of 1
    assert_problem(
        await client.post("/api/v1/resources/reservations", json=flag), 422, "request.invalid"
    )
    unknown = {**first, "color": "red"}
    assert_problem(
        await client.post("/api/v1/resources/reservations", json=unknown), 422, "request.invalid"
    )
    assert len((await client.get("/api/v1/resources/reservations")).json()) == 1
    assert_problem(
        await client.delete("/api/v1/resources/reservations/rsv-000000000000"),
        404,
        "reservation.not_found",
    )


async def test_two_overlapping_requests_at_once_cannot_both_pass(
    client: httpx.AsyncClient,
) -> None:
    now = time.time()
    body = {"pool": "gradle", "amount": 1, "namespace": "release",
            "from": iso(now + 60), "to": iso(now + 3600)}  # fmt: skip
    answers = await asyncio.gather(
        *(client.post("/api/v1/resources/reservations", json=body) for _ in range(4))
    )
    assert sorted(a.status_code for a in answers) == [201, 422, 422, 422]
    assert len((await client.get("/api/v1/resources/reservations")).json()) == 1
