"""A plain Server-Sent Events response for many clients: bytes in, quiet when they leave.

Streams yield ready-made SSE bytes (each event encoded once, see `basir.events.frames`), so
a frame costs one `send` and no per-client model.  The stream is cancelled as soon as the
client disconnects (Starlette listens for `http.disconnect` beside it); a disconnect or a
broken pipe ends it quietly, never as an error log, and the open-clients gauge follows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from prometheus_client import Gauge
from starlette.requests import ClientDisconnect
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from basir.events.fanout import Chunk

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
# Where the HTTP protocol leaves its request/response cycle in the ASGI scope (see
# `basir.api.http_limits`); absent under other servers and in-process test clients.
CYCLE_EXTENSION = "basir.http_cycle"


class DirectWriter:
    """Writes fan-out chunks straight to a response's socket (uvicorn's transport).

    Only used between two ASGI sends of the same response (the stream's coroutine decides),
    so the bytes keep their order; the HTTP/1.1 chunk framing is the one uvicorn chose for
    the response, and the framed bytes are shared by every stream of a topic.
    """

    def __init__(self, cycle: Any) -> None:
        self._cycle = cycle
        self._transport = cycle.transport

    def __call__(self, chunk: Chunk) -> int:
        """Write `chunk`; the bytes left in the socket buffer, or -1 if the peer has gone."""
        transport = self._transport
        if self._cycle.disconnected or transport.is_closing():
            return -1
        transport.write(chunk.framed() if self._cycle.chunked_encoding else chunk.data)
        size: int = transport.get_write_buffer_size()
        return size


def direct_writer(scope: Scope) -> DirectWriter | None:
    """A `DirectWriter` for this request if the server exposes its cycle (HTTP/1.1 only)."""
    cycle = scope.get("extensions", {}).get(CYCLE_EXTENSION)
    if cycle is None or not hasattr(cycle, "transport") or scope.get("http_version") != "1.1":
        return None
    return DirectWriter(cycle)


class EventStreamResponse(StreamingResponse):
    """`text/event-stream` of byte frames; a client going away is not an error."""

    media_type = "text/event-stream"

    def __init__(
        self,
        frames: AsyncIterator[bytes],
        status_code: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(frames, status_code, headers={**SSE_HEADERS, **(headers or {})})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Stream until the end or the client's disconnect, whichever comes first."""
        try:
            await super().__call__(scope, receive, send)
        except (ClientDisconnect, OSError):
            return


async def counted(frames: AsyncIterator[bytes], gauge: Gauge | None) -> AsyncIterator[bytes]:
    """`frames`, with `gauge` up while the client is connected (down on any ending)."""
    if gauge is not None:
        gauge.inc()
    try:
        async for chunk in frames:
            yield chunk
    finally:
        if gauge is not None:
            gauge.dec()
        await frames.aclose()  # type: ignore[attr-defined]
