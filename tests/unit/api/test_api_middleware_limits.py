"""`BodyLimitMiddleware`: header count and body read time, as pure ASGI (no server)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from basir.api.middleware import BodyLimitMiddleware


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    message = await receive()
    body = message.get("body", b"")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def _scope(method: str = "POST", headers: int = 2) -> dict[str, Any]:
    pairs = [(b"x-h%d" % index, b"v") for index in range(headers)]
    return {"type": "http", "method": method, "path": "/api/v1/workflows", "headers": pairs}


async def _call(middleware: BodyLimitMiddleware, scope: dict[str, Any], receive: Any) -> list[Any]:
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    await middleware(scope, receive, send)
    return sent


async def test_too_many_headers_get_431_before_the_app_runs() -> None:
    middleware = BodyLimitMiddleware(_app, max_body_bytes=1024, max_headers=10)

    async def receive() -> dict[str, Any]:
        raise AssertionError("the body is never read")

    sent = await _call(middleware, _scope("GET", headers=11), receive)
    assert sent[0]["status"] == 431
    assert json.loads(sent[1]["body"])["code"] == "request.too_many_headers"
    sent = await _call(middleware, _scope("GET", headers=10), _once(b""))
    assert sent[0]["status"] == 200


def _once(body: bytes) -> Any:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def test_a_body_that_never_ends_gets_408() -> None:
    middleware = BodyLimitMiddleware(_app, max_body_bytes=1024, body_timeout_s=0.05)
    stalled = asyncio.Event()
    first = True

    async def receive() -> dict[str, Any]:
        nonlocal first
        if first:
            first = False
            return {"type": "http.request", "body": b"name: a", "more_body": True}
        await stalled.wait()  # the client stops sending
        raise AssertionError("unreachable")

    sent = await _call(middleware, _scope(), receive)
    assert sent[0]["status"] == 408
    assert json.loads(sent[1]["body"])["code"] == "request.timeout"


async def test_a_complete_body_is_replayed_to_the_app() -> None:
    middleware = BodyLimitMiddleware(_app, max_body_bytes=1024, body_timeout_s=5)
    sent = await _call(middleware, _scope(), _once(b"name: a\n"))
    assert sent[0]["status"] == 200
    assert sent[1]["body"] == b"name: a\n"
