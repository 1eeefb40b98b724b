"""Pure ASGI middleware (no `BaseHTTPMiddleware`: it breaks context variables and streaming).

`LocaleMiddleware` makes each request's `Accept-Language` the active locale for everything
that runs inside it, error handlers included.  `BodyLimitMiddleware` answers 431 to a request
with too many headers, counts request bytes as they stream in, answers 413 beyond the limit
and 408 to a body that takes too long, and rejects JSON nested deeper than allowed before any
parser sees it.  (The size and time of the request head are bounded in the HTTP protocol,
`basir.api.http_limits`.)
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from basir.api.problems import problem_body
from basir.i18n import _, negotiate, use_locale

MAX_JSON_DEPTH = 64
MAX_HEADER_COUNT = 100
BODY_TIMEOUT_S = 30.0  # for the whole body of one request: a slow client holds nothing longer
_BODYLESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return None


class LocaleMiddleware:
    """Runs the request under the locale negotiated from `Accept-Language`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        accept = _header(scope, b"accept-language")
        locale = negotiate(accept.decode("latin-1") if accept else None)
        language = locale.encode("ascii")

        async def send_with_language(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"content-language", language)]
            await send(message)

        with use_locale(locale):
            await self.app(scope, receive, send_with_language)


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text (strings ignored)."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_JSON_STRING.sub(b'""', body)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _is_json(scope: Scope) -> bool:
    content_type = (_header(scope, b"content-type") or b"").split(b";")[0].strip().lower()
    return content_type == b"application/json" or content_type.endswith(b"+json")


class BodyLimitMiddleware:
    """413 `request.too_large` beyond `max_body_bytes`; 400 `request.too_deep` past the depth.

    The declared `Content-Length` is checked first; the streamed bytes are counted as well,
    because chunked uploads declare nothing.  Bodies within the limit are buffered (they are
    small by construction) and replayed to the app as one message.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        max_depth: int = MAX_JSON_DEPTH,
        *,
        max_headers: int = MAX_HEADER_COUNT,
        body_timeout_s: float = BODY_TIMEOUT_S,
    ):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_depth = max_depth
        self.max_headers = max_headers
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if len(scope.get("headers", ())) > self.max_headers:
            message = _("more than {limit} request headers", limit=self.max_headers)
            await self._reject(scope, send, 431, "request.too_many_headers", message)
            return
        if scope["method"] in _BODYLESS_METHODS:
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(scope, send)
            return
        try:
            async with asyncio.timeout(self.body_timeout_s):
                chunks = await self._read_body(receive)
        except TimeoutError:
            message = _(
                "the request body took longer than {seconds} s", seconds=self.body_timeout_s
            )
            await self._reject(scope, send, 408, "request.timeout", message)
            return
        if chunks is None:
            await self._too_large(scope, send)
            return
        if not chunks:
            return  # the client went away
        body = b"".join(chunks)
        if body and _is_json(scope) and json_depth(body) > self.max_depth:
            await self._reject(
                scope,
                send,
                400,
                "request.too_deep",
                _("the JSON body is nested deeper than {limit} levels", limit=self.max_depth),
            )
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read_body(self, receive: Receive) -> list[bytes] | None:
        """The body's chunks ([] when the client disconnected, None when over the limit)."""
        chunks: list[bytes] = [b""]  # never empty, so [] can mean "disconnected"
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return []
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks

    async def _too_large(self, scope: Scope, send: Send) -> None:
        await self._reject(
            scope,
            send,
            413,
            "request.too_large",
            _("the request body is larger than {limit} bytes", limit=self.max_body_bytes),
        )

    @staticmethod
    async def _reject(scope: Scope, send: Send, status: int, code: str, detail: str) -> None:
        body = problem_body(status, code, detail, str(scope.get("path", "")))
        headers: list[tuple[bytes, bytes]] = [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        message: dict[str, Any] = dict(await receive())
        return message

    return replay
