"""`/live`: the one Server-Sent Events stream of a dashboard page, fed by the engine's bus.

Pages do not get data from it, only *what changed*: a `run` event (a run's state moved) or a
`task` event (`{"task": id, "status": s}`), which make htmx re-fetch the affected fragments
and the DAG recolour a node.  Every event carries the log id, so after a reconnect the browser
sends `Last-Event-ID` and gets one `sync` event: the page re-fetches its fragments and has
caught up without a reload.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import APIRouter, Query, Request
from starlette.responses import Response, StreamingResponse

from basir.dashboard.context import DashboardContext
from basir.dashboard.web import SessionDep, dashboard_of, with_headers
from basir.events.bus import Subscription
from basir.store.records import EventRecord

router = APIRouter(include_in_schema=False)
KEEPALIVE_S = 15.0
RECONNECT_MS = 1000


def accept_for(run: str | None) -> Callable[[EventRecord], bool]:
    """The events a page cares about: run and task changes, of one run when given."""

    def accept(event: EventRecord) -> bool:
        if run is not None and event.run_id != run:
            return False
        return event.type.startswith(("run.", "task."))

    return accept


def frame(event: EventRecord) -> bytes:
    """One SSE frame for an event: `run` or `task` with a small JSON payload."""
    kind, _sep, state = event.type.partition(".")
    if kind == "task":
        data = {"run": event.run_id, "task": event.task_id, "status": state}
    else:
        data = {"run": event.run_id, "status": state}
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"id: {event.id}\nevent: {kind}\ndata: {text}\n\n".encode()


async def _next(subscription: Subscription, stop: asyncio.Event) -> EventRecord | None:
    """The next event; None on a keep-alive timeout or shutdown."""
    getter = asyncio.ensure_future(subscription.get())
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({getter, stopper}, timeout=KEEPALIVE_S, return_when="FIRST_COMPLETED")
    finally:
        stopper.cancel()
        if not getter.done():
            getter.cancel()
    return None if getter.cancelled() or not getter.done() else getter.result()


async def missed(ctx: DashboardContext, run: str | None, since: int | None) -> bool:
    """Whether events of interest were committed after the page was rendered (`since`)."""
    if since is None:
        return False
    events = await ctx.store.list_events(after=since, limit=1, run_id=run)
    return bool(events)


async def stream(
    ctx: DashboardContext,
    subscription: Subscription,
    reconnect: bool,
    stale: Callable[[], Awaitable[bool]],
) -> AsyncIterator[bytes]:
    """Frames until the server shuts down or the browser goes away (then closed quietly).

    Subscribed first, then checked: a change committed between rendering the page and
    opening the stream is seen either by `stale` (then one `sync`) or by the subscription.
    """
    try:
        yield f"retry: {RECONNECT_MS}\n: live\n\n".encode()
        if reconnect or await stale():
            last = await ctx.store.last_event_id()
            yield f"id: {last}\nevent: sync\ndata: {{}}\n\n".encode()
        while not ctx.shutdown.is_set():
            if subscription.lagged:
                subscription.lagged = False
                while subscription.get_nowait() is not None:
                    pass
                last = await ctx.store.last_event_id()
                yield f"id: {last}\nevent: sync\ndata: {{}}\n\n".encode()
            event = await _next(subscription, ctx.shutdown)
            yield frame(event) if event is not None else b": keep-alive\n\n"
    finally:
        subscription.close()


@router.get("/live")
async def live(
    request: Request,
    session: SessionDep,
    run: str | None = Query(None, max_length=128),
    since: int | None = Query(None, ge=0, le=2**62),
) -> Response:
    """The page's change stream (one per page; the htmx SSE extension opens it)."""
    ctx = dashboard_of(request)
    subscription = ctx.engine.bus.subscribe(accept_for(run))
    reconnect = request.headers.get("last-event-id") is not None
    response = StreamingResponse(
        stream(ctx, subscription, reconnect, lambda: missed(ctx, run, since)),
        media_type="text/event-stream",
        headers={"X-Accel-Buffering": "no"},
    )
    return with_headers(response)
