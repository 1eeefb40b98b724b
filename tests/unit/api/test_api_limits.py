"""Request limits: body size (413, counted as streamed), JSON depth, page sizes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
from api_helpers import MAX_BODY_BYTES, assert_problem

from basir.api.middleware import json_depth


async def test_declared_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    body = b"x" * (MAX_BODY_BYTES + 1)
    response = await client.post(
        "/api/v1/workflows", content=body, headers={"Content-Type": "application/yaml"}
    )
    problem = assert_problem(response, 413, "request.too_large")
    assert str(MAX_BODY_BYTES) in problem["detail"]


async def test_streamed_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"y" * 8192  # no Content-Length: chunked, counted as it arrives

    response = await client.post(
        "/api/v1/workflows", content=chunks(), headers={"Content-Type": "application/yaml"}
    )
    assert_problem(response, 413, "request.too_large")


async def test_body_within_limit_passes(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"name: chunked\n"
        yield b"tasks: [{id: a, uses: noop}]\n"

    response = await client.post(
        "/api/v1/workflows", content=chunks(), headers={"Content-Type": "application/yaml"}
    )
    assert response.status_code == 201, response.text


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


async def test_json_deeper_than_64_is_rejected(client: httpx.AsyncClient) -> None:
    body = '{"decision_id": "d", "workflow": "w", "params": {"p": ' + _nested(64) + "}}"
    response = await client.post(
        "/api/v1/decisions", content=body, headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 400, "request.too_deep")


async def test_json_at_the_depth_limit_is_accepted_by_the_guard(
    client: httpx.AsyncClient,
) -> None:
    body = '{"decision_id": "d", "workflow": "w", "params": {"p": ' + _nested(62) + "}}"
    response = await client.post(
        "/api/v1/decisions", content=body, headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 404, "workflow.not_found")  # got past the guard


async def test_arabic_413(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/decisions",
        content=b"[" + b" " * MAX_BODY_BYTES + b"]",
        headers={"Content-Type": "application/json", "Accept-Language": "ar"},
    )
    problem = assert_problem(response, 413, "request.too_large")
    assert problem["detail"] != "the request body is larger than 65536 bytes"


def test_json_depth_ignores_brackets_in_strings() -> None:
    assert json_depth(b'{"a": "[[[[{{{{", "b": [1, [2]]}') == 3
    assert json_depth(b'"\\"[[[["') == 0
    assert json_depth(json.dumps({"k": [[["x"]]]}).encode()) == 4
    assert json_depth(b"") == 0


async def test_page_limits(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/runs?limit=200")).status_code == 200
    problem = assert_problem(await client.get("/api/v1/runs?limit=201"), 422, "request.invalid")
    assert problem["errors"][0]["message"] == "must be at most 200"
    assert (await client.get("/api/v1/events/history?limit=1000")).status_code == 200
    problem = assert_problem(
        await client.get("/api/v1/events/history?limit=1001"), 422, "request.invalid"
    )
    assert problem["errors"][0]["field"] == "query.limit"
    assert_problem(await client.get("/api/v1/runs?limit=0"), 422, "request.invalid")
