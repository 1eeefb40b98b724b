"""Limits on what one HTTP client can make the server hold or wait for.

uvicorn's httptools protocol buffers a request head of any size (a 64 MB header took 10 s and
stalled `/healthz`) and waits forever for a head sent one byte at a time.  The protocol here
refuses a head over `MAX_HEAD_BYTES` with 431 before parsing it further, and closes a
connection whose head is not complete within `HEAD_TIMEOUT_S` with 408.

The number of headers and the time to read a body are checked in ASGI middleware
(`basir.api.middleware`), so they hold whichever protocol serves.
"""

from __future__ import annotations

from typing import Any

# httptools comes with uvicorn[standard], a declared dependency.
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from basir.events.sse import CYCLE_EXTENSION

MAX_HEAD_BYTES = 32 * 1024  # request line + headers; browsers send ~1-2 KB
HEAD_TIMEOUT_S = 10.0  # from the first byte of a request (or the connection) to its last header
KEEP_ALIVE_TIMEOUT_S = 5  # an idle kept-alive connection is closed after this


def _plain_response(status_line: bytes, text: str) -> bytes:
    body = text.encode("ascii")
    return b"".join(
        [
            status_line,
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
            b"connection: close\r\n\r\n",
            body,
        ]
    )


def _ends_head(data: bytes) -> bool:
    """Whether `data` holds the blank line that ends a request head."""
    return b"\r\n\r\n" in data or b"\n\n" in data


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """Counts the bytes of each request head before the parser sees them; times the head."""

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._head_bytes = 0
        self._head_tail = b""
        self._in_head = True
        self._head_timer: Any = self.loop.call_later(HEAD_TIMEOUT_S, self._head_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            allowed = MAX_HEAD_BYTES - self._head_bytes
            # A chunk may hold the head and the start of the body: only the head counts.
            if len(data) > allowed and not _ends_head(self._head_tail + data[:allowed]):
                self._refuse(
                    b"HTTP/1.1 431 Request Header Fields Too Large\r\n",
                    f"request head over {MAX_HEAD_BYTES} bytes",
                )
                return
            self._head_bytes += len(data)
            self._head_tail = data[-3:]
            if self._head_timer is None:
                self._head_timer = self.loop.call_later(HEAD_TIMEOUT_S, self._head_too_slow)
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._stop_head_timer()
        super().on_headers_complete()
        # SSE streams write their shared chunks straight to the socket (basir.events.sse).
        cycle = self.cycle
        if cycle is not None and cycle.scope is self.scope:  # not an upgrade
            extensions: dict[str, Any] = self.scope.setdefault("extensions", {})
            extensions[CYCLE_EXTENSION] = cycle

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # The next request's head starts now; its timer starts with its first byte.
        self._in_head = True
        self._head_bytes = 0
        self._head_tail = b""

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            self._refuse(b"HTTP/1.1 408 Request Timeout\r\n", "request head too slow")

    def _refuse(self, status_line: bytes, text: str) -> None:
        self._stop_head_timer()
        self._in_head = False
        self.transport.write(_plain_response(status_line, text))
        self.transport.close()


def uvicorn_limits() -> dict[str, Any]:
    """The `uvicorn.Config` keyword arguments that put these limits in place."""
    return {
        "http": BoundedHttpToolsProtocol,
        "timeout_keep_alive": KEEP_ALIVE_TIMEOUT_S,
        # Only used if the protocol is switched to h11: the same head limit (h11 answers 400).
        "h11_max_incomplete_event_size": MAX_HEAD_BYTES,
    }
