"""A JSON `true` (or a fraction) where a request body means a whole number is refused, never
counted as 1 (DESIGN invariant 6): 422 `request.invalid`, and nothing changes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from api_helpers import assert_problem

Apply = Callable[[str], Awaitable[dict[str, Any]]]
FLAGS_AND_FRACTIONS = (True, False, 1.5, "2")


@pytest.mark.parametrize("bad", FLAGS_AND_FRACTIONS)
async def test_a_run_request_refuses_a_flag_or_fraction_as_its_version(
    client: httpx.AsyncClient, apply: Apply, bad: object
) -> None:
    await apply("name: hello\ntasks:\n  - {id: a, uses: noop}\n")
    answer = await client.post("/api/v1/workflows/hello/runs", json={"version": bad})
    problem = assert_problem(answer, 422, "request.invalid")
    assert [e["field"] for e in problem["errors"]] == ["body.version"]
    for field in ("priority", "deadline"):
        answer = await client.post("/api/v1/workflows/hello/runs", json={field: True})
        assert_problem(answer, 422, "request.invalid")
    assert (await client.get("/api/v1/runs")).json()["items"] == []


@pytest.mark.parametrize("bad", [True, False, 1.5])  # "2" is the BASIR_QUEUES form: kept
async def test_a_queue_limit_refuses_a_flag_or_fraction(
    client: httpx.AsyncClient, bad: object
) -> None:
    answer = await client.put("/api/v1/queues/builds", json={"limit": bad})
    assert answer.status_code == 422, answer.text
    assert "builds" not in (await client.get("/api/v1/queues")).json()["queues"]


async def test_a_queue_limit_of_a_whole_number_is_kept(client: httpx.AsyncClient) -> None:
    answer = await client.put("/api/v1/queues/builds", json={"limit": 2})
    assert answer.is_success, answer.text


async def test_whole_number_fields_of_other_bodies_refuse_flags(client: httpx.AsyncClient) -> None:
    route = {"name": "ops", "url": "https://example.com/hook", "max_per_minute": True}
    answer = await client.post("/api/v1/notifications/routes", json=route)
    assert_problem(answer, 422, "request.invalid")
    window = {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z", "max_active": True}
    answer = await client.post("/api/v1/schedules/nightly/backfill", json=window)
    assert_problem(answer, 422, "request.invalid")


async def test_an_alert_rule_threshold_is_no_flag(client: httpx.AsyncClient) -> None:
    rule = {
        "name": "slow",
        "metric": "basir_runs_total",
        "threshold": True,
        "message": {"en": "runs {value}", "ar": "التشغيلات {value}"},
    }
    answer = await client.post("/api/v1/alerts/rules", json=rule)
    assert answer.status_code == 422, answer.text
    assert "threshold" in answer.text
    assert_problem(await client.get("/api/v1/alerts/rules/slow"), 404, "alert_rule.not_found")


@pytest.mark.parametrize(
    ("field", "value"),
    [("concurrency", True), ("max_active_runs", True), ("concurrency", 1.5), ("priority", True)],
)
async def test_a_json_workflow_refuses_a_flag_as_a_number(
    client: httpx.AsyncClient, field: str, value: object
) -> None:
    spec = {"name": "flags", field: value, "tasks": [{"id": "a", "uses": "noop"}]}
    answer = await client.post("/api/v1/workflows", json=spec)
    problem = assert_problem(answer, 422, "spec.invalid")
    assert [(e["code"], e["field"]) for e in problem["errors"]] == [("spec.invalid_value", field)]
    assert_problem(await client.get("/api/v1/workflows/flags"), 404, "workflow.not_found")
