"""The bounded HTTP protocol in a real (in-process) uvicorn server: head size and head time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn

from basir.api import http_limits


async def _echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"%d" % len(body)})


@pytest.fixture
async def port(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[int]:
    monkeypatch.setattr(http_limits, "HEAD_TIMEOUT_S", 0.2)
    config = uvicorn.Config(_echo, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    for key, value in http_limits.uvicorn_limits().items():
        setattr(config, key, value)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield int(server.servers[0].sockets[0].getsockname()[1])
    server.should_exit = True
    await serving


async def _exchange(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
    except ConnectionError:
        pass  # refused while still sending
    response = await reader.read()
    writer.close()
    return response


async def test_a_head_that_never_ends_gets_408(port: int) -> None:
    response = await _exchange(port, b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: a")
    assert response.startswith(b"HTTP/1.1 408 ")


async def test_a_big_head_gets_431_but_a_big_body_does_not(port: int) -> None:
    big = b"a" * (http_limits.MAX_HEAD_BYTES + 1)
    response = await _exchange(port, b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + big + b"\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 431 ")
    body = b"b" * (4 * http_limits.MAX_HEAD_BYTES)
    head = b"POST / HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: %d\r\n\r\n"
    response = await _exchange(port, head % len(body) + body)  # one write: head and body
    assert response.startswith(b"HTTP/1.1 200 ")
    assert b"\r\n%d\r\n" % len(body) in response
