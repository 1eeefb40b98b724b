"""Shared helpers of the API tests: sample workflows, problem checks, streaming, Arabic."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

import httpx
from starlette.types import ASGIApp, Message

MAX_BODY_BYTES = 64 * 1024
ClientFactory = Callable[..., httpx.AsyncClient]

HELLO_YAML = """\
name: hello
description: {en: Say hello, ar: قل مرحبا}
params:
  who: {type: string, default: world}
tasks:
  - id: greet
    uses: echo
    with: {message: "hi ${{ params.who }}"}
  - id: after
    needs: [greet]
    uses: noop
"""

SLOW_YAML = """\
name: slow
tasks:
  - id: first
    uses: sleep
    with: {seconds: 30}
  - id: second
    needs: [first]
    uses: noop
"""

FAILING_YAML = """\
name: failing
tasks:
  - id: boom
    uses: fail
    with: {message: broken on purpose}
  - id: later
    needs: [boom]
    uses: noop
"""

SHELL_YAML = """\
name: shell
tasks:
  - id: talk
    run: "echo one; echo two; echo three"
"""

FOLLOW_YAML = """\
name: follow
tasks:
  - id: talk
    run: "echo start; sleep 1; echo end"
"""


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is a problem+json document with this status and code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert set(problem) >= {"type", "title", "status", "detail", "code", "instance", "errors"}
    assert problem["status"] == status
    assert problem["code"] == code, problem
    assert problem["type"].endswith(code)
    return problem


class AsgiStream:
    """One streaming request against an ASGI app, read chunk by chunk as the app sends it.

    (httpx's ASGITransport buffers whole responses, which an endless SSE stream never ends.)
    """

    def __init__(self, app: ASGIApp, path: str, headers: dict[str, str] | None = None):
        self.app = app
        self.path, _sep, self.query = path.partition("?")
        self.request_headers = headers or {}
        self.status = 0
        self.headers: dict[str, str] = {}
        self._buffer = ""
        self._chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._disconnect = asyncio.Event()
        self._started = asyncio.Event()
        self._requested = False
        self.ended = False

    async def __aenter__(self) -> AsgiStream:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": self.path,
            "raw_path": self.path.encode(),
            "query_string": self.query.encode(),
            "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in self.request_headers.items()],
            "client": ("127.0.0.1", 1234),
            "server": ("test", 80),
        }
        self._task = asyncio.create_task(self.app(scope, self._receive, self._send))
        started = asyncio.create_task(self._started.wait())
        await asyncio.wait({self._task, started}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
        started.cancel()
        if self._task.done() and not self._started.is_set():
            self._task.result()
        return self

    async def _receive(self) -> Message:
        if not self._requested:
            self._requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self._disconnect.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = {k.decode(): v.decode() for k, v in message.get("headers", [])}
            self._started.set()
        elif message["type"] == "http.response.body":
            if message.get("body"):
                self._chunks.put_nowait(message["body"])
            if not message.get("more_body", False):
                self._chunks.put_nowait(None)

    async def _more(self, timeout: float) -> bool:
        chunk = await asyncio.wait_for(self._chunks.get(), timeout)
        if chunk is None:
            self.ended = True
            return False
        self._buffer += chunk.decode()
        return True

    async def read_all(self, timeout: float = 10) -> str:
        """Everything until the app ends the response."""
        while not self.ended and await self._more(timeout):
            pass
        text, self._buffer = self._buffer, ""
        return text

    async def next_message(self, timeout: float = 5) -> dict[str, Any] | None:
        """The next SSE message: {"id", "data" (parsed JSON), "comment"}; None at the end."""
        while "\n\n" not in self._buffer:
            if self.ended or not await self._more(timeout):
                return None
        block, self._buffer = self._buffer.split("\n\n", 1)
        message: dict[str, Any] = {"id": None, "data": None, "comment": None}
        data: list[str] = []
        for line in block.split("\n"):
            name, _sep, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "":
                message["comment"] = value
            elif name == "data":
                data.append(value)
            elif name in ("id", "retry", "event"):
                message[name] = value
        if data:
            message["data"] = json.loads("\n".join(data))
        return message

    async def next_event(self, timeout: float = 5) -> dict[str, Any]:
        """The next SSE message that carries an event (comments skipped)."""
        while True:
            message = await self.next_message(timeout)
            assert message is not None, "stream ended"
            if message["data"] is not None:
                return message

    async def __aexit__(self, *exc: object) -> None:
        self._disconnect.set()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(self._task, 5)
