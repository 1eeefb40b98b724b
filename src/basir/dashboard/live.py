"""`/live`: the one Server-Sent Events stream of a dashboard page, fed by the engine's bus.

Pages do not get data from it, only *what changed*: a `run` event (a run's state moved), a
`task` event (`{"task": id, "status": s}`) or an `alert` event (`{"alert": id, "status": s}`,
an alert fired or resolved), which make htmx re-fetch the affected fragments and the DAG
recolour a node.  Every event carries the log id, so after a reconnect the browser
sends `Last-Event-ID` and gets one `sync` event: the page re-fetches its fragments and has
caught up without a reload.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from basir.dashboard.context import DashboardContext
from basir.dashboard.web import SessionDep, dashboard_of, with_headers
from basir.events.fanout import Stream, Topic
from basir.events.frames import shared
from basir.events.sse import EventStreamResponse, counted, direct_writer
from basir.store.records import EventRecord

router = APIRouter(include_in_schema=False)
KEEPALIVE_S = 15.0
RECONNECT_MS = 1000


def accept_for(run: str | None) -> Callable[[EventRecord], bool]:
    """The events a page cares about: run, task and alert changes, of one run when given."""

    def accept(event: EventRecord) -> bool:
        if run is not None and event.run_id != run:
            return False
        return event.type.startswith(("run.", "task.", "alert."))

    return accept


@shared
def frame(event: EventRecord) -> bytes:
    """One SSE frame for an event: `run` or `task` with a small JSON payload (encoded once)."""
    kind, _sep, state = event.type.partition(".")
    if kind == "task":
        data = {"run": event.run_id, "task": event.task_id, "status": state}
    elif kind == "alert":
        data = {"alert": event.data.get("alert_id"), "status": state}
    else:
        data = {"run": event.run_id, "status": state}
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"id: {event.id}\nevent: {kind}\ndata: {text}\n\n".encode()


async def missed(ctx: DashboardContext, run: str | None, since: int | None) -> bool:
    """Whether events of interest were committed after the page was rendered (`since`)."""
    if since is None:
        return False
    events = await ctx.store.list_events(after=since, limit=1, run_id=run)
    return bool(events)


def topic_for(run: str | None) -> Topic:
    """The fan-out topic of a page: every page of the same run shares the same bytes."""
    return Topic(("live", run), frame, run=run, accept=accept_for(None))


async def stream(
    ctx: DashboardContext,
    joined: Stream,
    reconnect: bool,
    stale: Callable[[], Awaitable[bool]],
) -> AsyncIterator[bytes]:
    """Frames until shutdown, the browser going away, or the stream being dropped.

    Joined first, then checked: a change committed between rendering the page and opening
    the stream is seen either by `stale` (then one `sync`) or live.  A browser too slow for
    its socket is dropped: the stream ends, the browser reconnects with `Last-Event-ID` and
    gets one `sync`.  Live frames are written once per fan-out window, the same bytes for
    every page of the run (`basir.events.fanout`).
    """
    stop = asyncio.ensure_future(ctx.shutdown.wait())
    stop.add_done_callback(lambda _: joined.close())
    try:
        yield f"retry: {RECONNECT_MS}\n: live\n\n".encode()
        if reconnect or await stale():
            last = await ctx.store.last_event_id()
            joined.skip_to(last)
            yield f"id: {last}\nevent: sync\ndata: {{}}\n\n".encode()
        while True:
            chunk = await joined.next(KEEPALIVE_S)
            if chunk is None:
                return
            yield chunk or b": keep-alive\n\n"
    finally:
        stop.cancel()
        joined.close()


@router.get("/live")
async def live(
    request: Request,
    session: SessionDep,
    run: str | None = Query(None, max_length=128),
    since: int | None = Query(None, ge=0, le=2**62),
) -> Response:
    """The page's change stream (one per page; the htmx SSE extension opens it)."""
    ctx = dashboard_of(request)
    joined = ctx.engine.bus.fanout.join(topic_for(run), direct_writer(request.scope))
    reconnect = request.headers.get("last-event-id") is not None
    frames = stream(ctx, joined, reconnect, lambda: missed(ctx, run, since))
    gauge = ctx.metrics.sse_clients if ctx.metrics is not None else None
    return with_headers(EventStreamResponse(counted(frames, gauge)))
