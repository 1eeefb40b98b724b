"""A plain Server-Sent Events response for many clients: bytes in, quiet when they leave.

Streams yield ready-made SSE bytes (each event encoded once, see `basir.events.frames`), so
a frame costs one `send` and no per-client model.  The stream is cancelled as soon as the
client disconnects (Starlette listens for `http.disconnect` beside it); a disconnect or a
broken pipe ends it quietly, never as an error log, and the open-clients gauge follows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from prometheus_client import Gauge
from starlette.requests import ClientDisconnect
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


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
