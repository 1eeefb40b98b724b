"""The http executor against a real server on 127.0.0.1 (no other network)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from basir.executors.base import JsonDict, TaskContext, TaskFailure
from basir.executors.http import HttpExecutor

MakeCtx = Callable[..., TaskContext]


class Handler(BaseHTTPRequestHandler):
    """Routes: /status/<code>, /json, /echo, /slow?s=, /big?n=, /redirect, /text-json."""

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output quiet

    def _send(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Custom", "Value")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _route(self) -> None:
        url = urlparse(self.path)
        query = parse_qs(url.query)
        length = int(self.headers.get("Content-Length") or 0)
        payload = self.rfile.read(length) if length else b""
        if url.path.startswith("/status/"):
            self._send(int(url.path.rsplit("/", 1)[1]), b"status body")
        elif url.path == "/json":
            self._send(
                200, b'{"items": [1, 2], "name": "\xd8\xa8"}', "application/json; charset=utf-8"
            )
        elif url.path == "/bad-json":
            self._send(200, b"{not json", "application/json")
        elif url.path == "/echo":
            echo = {
                "method": self.command,
                "headers": {key.lower(): value for key, value in self.headers.items()},
                "body": payload.decode(),
            }
            self._send(200, json.dumps(echo).encode(), "application/json")
        elif url.path == "/slow":
            time.sleep(float(query["s"][0]))
            self._send(200, b"late")
        elif url.path == "/big":
            self._send(200, b"y" * int(query["n"][0]))
        elif url.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/json")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._send(404, b"not found")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _route  # noqa: N815


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.block_on_close = False
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
async def executor() -> AsyncIterator[HttpExecutor]:
    executor = HttpExecutor()
    yield executor
    await executor.aclose()


async def test_get_json(executor: HttpExecutor, server: str, make_ctx: MakeCtx) -> None:
    ctx = make_ctx()
    outputs = await executor.execute({"url": f"{server}/json"}, ctx)
    assert outputs["status"] == 200
    assert outputs["json"] == {"items": [1, 2], "name": "ب"}
    assert outputs["body"] == '{"items": [1, 2], "name": "ب"}'
    assert outputs["headers"]["content-type"].startswith("application/json")
    assert outputs["headers"]["x-custom"] == "Value"
    assert "GET " in ctx.log_path.read_text() and "-> 200" in ctx.log_path.read_text()


async def test_wrapped_body_and_post_json(
    executor: HttpExecutor, server: str, make_ctx: MakeCtx
) -> None:
    body = {
        "http": {
            "method": "post",
            "url": f"{server}/echo",
            "headers": {"X-Token": "abc"},
            "json": {"run": "r1"},
        }
    }
    echo = (await executor.execute(body, make_ctx()))["json"]
    assert echo["method"] == "POST"
    assert echo["headers"]["x-token"] == "abc"
    assert echo["headers"]["content-type"] == "application/json"
    assert json.loads(echo["body"]) == {"run": "r1"}


async def test_raw_body(executor: HttpExecutor, server: str, make_ctx: MakeCtx) -> None:
    body = {"method": "PUT", "url": f"{server}/echo", "body": "plain text"}
    assert (await executor.execute(body, make_ctx()))["json"]["body"] == "plain text"


async def test_non_2xx_fails_with_outputs(
    executor: HttpExecutor, server: str, make_ctx: MakeCtx
) -> None:
    with pytest.raises(TaskFailure) as info:
        await executor.execute({"url": f"{server}/status/503"}, make_ctx())
    assert info.value.message == f"HTTP 503 from {server}/status/503"
    assert info.value.outputs["status"] == 503
    assert info.value.detail == "status body"


@pytest.mark.parametrize(("expect", "status"), [(404, 404), ([200, 409], 409), ([500], 500)])
async def test_expect(
    executor: HttpExecutor, server: str, make_ctx: MakeCtx, expect: object, status: int
) -> None:
    body = {"url": f"{server}/status/{status}", "expect": expect}
    assert (await executor.execute(body, make_ctx()))["status"] == status


async def test_expect_excludes_2xx(executor: HttpExecutor, server: str, make_ctx: MakeCtx) -> None:
    with pytest.raises(TaskFailure, match="HTTP 200"):
        await executor.execute({"url": f"{server}/json", "expect": 201}, make_ctx())


async def test_redirects_are_not_followed(
    executor: HttpExecutor, server: str, make_ctx: MakeCtx
) -> None:
    body = {"url": f"{server}/redirect", "expect": 302}
    outputs = await executor.execute(body, make_ctx())
    assert outputs["headers"]["location"] == "/json"


async def test_timeout(executor: HttpExecutor, server: str, make_ctx: MakeCtx) -> None:
    started = time.monotonic()
    with pytest.raises(TaskFailure, match=r"timed out after 0\.2s"):
        await executor.execute({"url": f"{server}/slow?s=2", "timeout": "200ms"}, make_ctx())
    assert time.monotonic() - started < 1.5


async def test_connection_refused(executor: HttpExecutor, make_ctx: MakeCtx) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(TaskFailure, match="failed"):
        await executor.execute({"url": f"http://127.0.0.1:{port}/"}, make_ctx())


async def test_body_is_capped(server: str, make_ctx: MakeCtx) -> None:
    executor = HttpExecutor(max_body_bytes=1000)
    try:
        outputs = await executor.execute({"url": f"{server}/big?n=5000"}, make_ctx())
        assert outputs["body"] == "y" * 1000
        assert outputs["truncated"] is True
    finally:
        await executor.aclose()


async def test_mislabelled_json_keeps_the_text(
    executor: HttpExecutor, server: str, make_ctx: MakeCtx
) -> None:
    outputs = await executor.execute({"url": f"{server}/bad-json"}, make_ctx())
    assert outputs["body"] == "{not json"
    assert "json" not in outputs


async def test_head(executor: HttpExecutor, server: str, make_ctx: MakeCtx) -> None:
    outputs = await executor.execute({"method": "HEAD", "url": f"{server}/json"}, make_ctx())
    assert (outputs["status"], outputs["body"]) == (200, "")


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ({"method": "GET"}, "url"),
        ({"url": "http://127.0.0.1/", "method": "BREW"}, "method"),
        ({"url": "http://127.0.0.1/", "surprise": 1}, "surprise"),
    ],
)
async def test_invalid_bodies(
    executor: HttpExecutor, make_ctx: MakeCtx, body: JsonDict, match: str
) -> None:
    with pytest.raises(TaskFailure, match=match):
        await executor.execute(body, make_ctx())


async def test_unsupported_url(executor: HttpExecutor, make_ctx: MakeCtx) -> None:
    with pytest.raises(TaskFailure, match="failed"):
        await executor.execute({"url": "ftp://127.0.0.1/x"}, make_ctx())


async def test_client_is_shared_and_closed(server: str, make_ctx: MakeCtx) -> None:
    executor = HttpExecutor()
    await executor.execute({"url": f"{server}/json"}, make_ctx())
    client = executor._client
    await executor.execute({"url": f"{server}/json"}, make_ctx())
    assert executor._client is client is not None
    await executor.aclose()
    assert client.is_closed
    await executor.aclose()
