"""Through the API: planned fields and unknown pools are refused at apply, nothing is stored."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import MAX_BODY_BYTES, SLOW_YAML, assert_problem

from basir.config import Settings

Start = Callable[..., Awaitable[dict[str, Any]]]

POOLS_YAML = """\
name: pools
tasks:
  - id: build
    run: make
    resources: {cpu: 2, pools: {gradle: 1, gpu: 1}}
"""


@pytest.fixture
def settings(basir_home: Path) -> Settings:
    """The API's settings with one custom pool, `gradle`."""
    return Settings(
        home=basir_home, max_body_bytes=MAX_BODY_BYTES, shutdown_grace_s=0.0, pools="gradle=2"
    )


async def post_yaml(client: httpx.AsyncClient, text: str, **headers: str) -> httpx.Response:
    return await client.post(
        "/api/v1/workflows", content=text, headers={"Content-Type": "application/yaml", **headers}
    )


async def test_unknown_pool_is_named_and_nothing_is_stored(client: httpx.AsyncClient) -> None:
    problem = assert_problem(await post_yaml(client, POOLS_YAML), 422, "spec.invalid")
    found = {(e["code"], e["field"], e["line"], e["col"]): e["message"] for e in problem["errors"]}
    assert set(found) == {("spec.unknown_pool", "tasks[0].resources.pools.gpu", 5, 44)}
    message = found[("spec.unknown_pool", "tasks[0].resources.pools.gpu", 5, 44)]
    assert "task build asks for pool gpu" in message
    assert "pools: cpu, memory, disk, gradle" in message
    assert_problem(await client.get("/api/v1/workflows/pools"), 404, "workflow.not_found")


@pytest.mark.parametrize(
    ("snippet", "field"),
    [
        ("on: {git: {events: [push]}}\n", "on.git"),
        ("tasks:\n  - {id: a, run: x, cache: {key: k}}\n", "tasks[0].cache"),
    ],
)
async def test_each_planned_field_is_refused_at_apply(
    client: httpx.AsyncClient, snippet: str, field: str
) -> None:
    text = "name: planned\n" + snippet
    if not snippet.startswith("tasks:"):
        text += "tasks:\n  - {id: a, run: x}\n"
    problem = assert_problem(await post_yaml(client, text), 422, "spec.invalid")
    assert [(e["code"], e["field"]) for e in problem["errors"]] == [("spec.unsupported", field)]
    assert "not" in problem["errors"][0]["message"] and "yet" in problem["errors"][0]["message"]
    assert_problem(await client.get("/api/v1/workflows/planned"), 404, "workflow.not_found")


async def test_bad_cron_and_zone_are_precise_and_in_arabic(client: httpx.AsyncClient) -> None:
    text = "name: cron\non:\n  schedule: [{cron: not a cron, timezone: Mars/Base}]\ntasks:\n"
    text += "  - {id: a, run: x}\n"
    problem = assert_problem(await post_yaml(client, text), 422, "spec.invalid")
    assert [(e["code"], e["line"], e["col"]) for e in problem["errors"]] == [
        ("spec.cron_invalid", 3, 15),
        ("spec.timezone_invalid", 3, 33),
    ]
    arabic = assert_problem(
        await post_yaml(client, text, **{"Accept-Language": "ar"}), 422, "spec.invalid"
    )
    for error in arabic["errors"]:
        assert any("\u0600" <= ch <= "\u06ff" for ch in error["message"]), error


async def test_task_priority_is_accepted(client: httpx.AsyncClient) -> None:
    text = "name: prio\ntasks:\n  - {id: a, run: x, priority: critical}\n"
    assert (await post_yaml(client, text)).status_code == 201


async def test_patch_refuses_planned_task_fields(client: httpx.AsyncClient, start: Start) -> None:
    run_id = (await start(SLOW_YAML))["run_id"]
    body = {
        "tasks": [
            {"id": "extra", "uses": "noop", "queue": "q", "cache": {"key": "k"}},
            {"id": "more", "run": "true", "isolate": True},
        ]
    }
    problem = assert_problem(
        await client.patch(f"/api/v1/runs/{run_id}", json=body), 422, "run.invalid_tasks"
    )
    assert [(e["field"], e.get("code")) for e in problem["errors"]] == [
        ("body.tasks[0].cache", "spec.unsupported"),
        ("body.tasks[1].isolate", "spec.invalid_value"),
    ]  # a queue is no longer planned: it is checked against the configured ones (below)
    shown = (await client.get(f"/api/v1/runs/{run_id}")).json()
    assert "extra" not in shown["tasks"] and "more" not in shown["tasks"]
    body = {"tasks": [{"id": "queued", "uses": "noop", "queue": "nightly"}]}
    problem = assert_problem(
        await client.patch(f"/api/v1/runs/{run_id}", json=body), 422, "run.invalid_patch"
    )
    assert [(e["field"], e.get("code")) for e in problem["errors"]] == [
        ("tasks[0].queue", "spec.unknown_queue")
    ]
    await client.post(f"/api/v1/runs/{run_id}/cancel")


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


async def test_deep_json_spec_is_400_as_documented(client: httpx.AsyncClient) -> None:
    body = '{"name": "deep", "tasks": [{"id": "a", "uses": "echo", "with": {"message": '
    body += _nested(10_000) + "}}]}"
    response = await client.post(
        "/api/v1/workflows", content=body, headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 400, "request.too_deep")


async def test_deep_yaml_spec_is_a_located_spec_error(client: httpx.AsyncClient) -> None:
    text = "name: deep\ntasks:\n  - id: a\n    uses: echo\n    with: {message: "
    text += _nested(10_000) + "}\n"
    problem = assert_problem(await post_yaml(client, text), 422, "spec.invalid")
    assert [(e["code"], e["line"]) for e in problem["errors"]] == [("spec.too_deep", 5)]


async def test_request_bodies_refuse_unknown_fields(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/decisions", json={"decision_id": "d", "workflow": "w", "callbak_url": "x"}
    )
    problem = assert_problem(response, 422, "request.invalid")
    assert problem["errors"] == [{"field": "body.callbak_url", "message": "unknown field"}]


async def test_listing_queries_refuse_unknown_parameters(client: httpx.AsyncClient) -> None:
    problem = assert_problem(await client.get("/api/v1/runs?stauts=failed"), 422, "request.invalid")
    assert problem["errors"] == [{"field": "query.stauts", "message": "unknown field"}]
    problem = assert_problem(
        await client.get("/api/v1/events/history?tpye=run.started"), 422, "request.invalid"
    )
    assert problem["errors"] == [{"field": "query.tpye", "message": "unknown field"}]
