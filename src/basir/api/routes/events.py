"""`/api/v1/events`: the live Server-Sent Events stream (with replay) and the paged history.

Replay without gaps or duplicates: the stream joins the bus's fan-out *first*, then replays
the persisted log after the client's last id, then serves live events, skipping any whose id
it has already sent.  Events reach the bus only after commit, so anything committed before
joining is in the replay, and anything after it comes live.  Live events are written once
per window per stream, as bytes shared by every stream with the same filter
(`basir.events.fanout`).  A stream that falls behind (too many unsent bytes) replays from
the store again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from starlette.responses import Response

from basir.api.deps import ApiContext, Reader, json_response
from basir.api.problems import problem_responses
from basir.api.query import query_model
from basir.api.schemas import EVENT_TYPES_PATTERN, EventPage, EventQuery
from basir.errors import BasirError
from basir.events.fanout import Topic, Writer
from basir.events.frames import shared
from basir.events.sse import EventStreamResponse, counted, direct_writer
from basir.i18n import _
from basir.spec.models import NAME_PATTERN
from basir.store.records import EventRecord

router = APIRouter(prefix="/api/v1", tags=["events"], responses=problem_responses(401, 403))

REPLAY_PAGE = 500
MAX_TYPES = 32
RECONNECT_MS = 1000
KEEPALIVE_S = 15.0
RunFilter = Annotated[str | None, Query(alias="run", max_length=128)]
WorkflowFilter = Annotated[str | None, Query(pattern=NAME_PATTERN)]
TypeFilter = Annotated[
    str | None,
    Query(
        alias="type",
        pattern=EVENT_TYPES_PATTERN,
        description="types, comma separated (task.failed)",
    ),
]


def _types(value: str | None) -> tuple[str, ...] | None:
    return tuple(t for t in value.split(",") if t)[:MAX_TYPES] if value else None


def _event_id(value: str | None, field: str) -> int | None:
    if value is None or value.strip() == "":
        return None
    text = value.strip()
    if not text.isdigit() or len(text) > 18:
        raise BasirError(
            "request.invalid_cursor",
            _("an event id is a non-negative whole number"),
            details=[{"field": field, "message": _("not an event id")}],
        )
    return int(text)


def _filter(
    run: str | None, workflow: str | None, types: tuple[str, ...] | None
) -> Callable[[EventRecord], bool]:
    def accept(event: EventRecord) -> bool:
        return (
            (run is None or event.run_id == run)
            and (workflow is None or event.workflow == workflow)
            and (types is None or event.type in types)
        )

    return accept


@shared
def _sse(event: EventRecord) -> bytes:
    """One event as SSE bytes (`data:` the CloudEvent, `id:` its log id), encoded once."""
    data = json.dumps(event.to_cloudevent(), ensure_ascii=False, separators=(",", ":"))
    return f"data: {data}\nid: {event.id}\n\n".encode()


LIVE_MARKER = f": live\nretry: {RECONNECT_MS}\n\n".encode()
KEEPALIVE = b": ping\n\n"


def _topic(run: str | None, workflow: str | None, types: tuple[str, ...] | None) -> Topic:
    """The fan-out topic of a filter: streams with the same filter share their bytes."""
    needs_check = workflow is not None or types is not None
    accept = _filter(None, workflow, types) if needs_check else None
    return Topic(("api", run, workflow, types), _sse, run=run, accept=accept)


class _Stream:
    """One client's position in the log and its place in the fan-out."""

    def __init__(
        self,
        ctx: ApiContext,
        last: int,
        run: str | None,
        workflow: str | None,
        types: tuple[str, ...] | None,
        writer: Writer | None,
    ) -> None:
        self.ctx = ctx
        self.last = last
        self.run = run
        self.workflow = workflow
        self.types = types
        self.topic = _topic(run, workflow, types)
        self.writer = writer

    async def replay(self) -> AsyncIterator[bytes]:
        """Persisted events after `last`, oldest first, a page of frames per chunk."""
        while True:
            page = await self.ctx.store.list_events(
                after=self.last,
                limit=REPLAY_PAGE,
                run_id=self.run,
                workflow=self.workflow,
                types=self.types,
            )
            if page:
                self.last = page[-1].id
                yield b"".join(_sse(event) for event in page)
            if len(page) < REPLAY_PAGE:
                return

    async def frames(self, replay: bool) -> AsyncIterator[bytes]:
        """Replay (when asked), the `live` marker, then live frames until shutdown.

        Joined to the fan-out before the replay, so nothing committed meanwhile is missed;
        live events the replay already sent are cut out by id.  Dropped (too far behind):
        joined again, then caught up from the store after the last event sent.
        """
        hub = self.ctx.engine.bus.fanout
        shutdown = self.ctx.shutdown
        stream = hub.join(self.topic, self.writer, self.last if replay else None)
        joined = [stream]
        stop = asyncio.ensure_future(shutdown.wait())
        stop.add_done_callback(lambda _: joined[0].close())
        try:
            if replay:
                async for chunk in self.replay():
                    yield chunk
                stream.skip_to(self.last)
            yield LIVE_MARKER
            while not shutdown.is_set():
                live = await stream.next(KEEPALIVE_S)
                if live is None and stream.dropped and not shutdown.is_set():
                    self.last = stream.sent
                    stream = joined[0] = hub.join(self.topic, self.writer, self.last)
                    async for part in self.replay():
                        yield part
                    stream.skip_to(self.last)
                elif live is None:
                    return
                else:
                    yield live or KEEPALIVE
        finally:
            stop.cancel()
            stream.close()


async def _start_id(
    since: Annotated[str | None, Query(max_length=20, description="replay after this id")] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=20)] = None,
) -> int | None:
    """Where a stream starts: `Last-Event-ID` (a reconnect) wins over `since`; None = live."""
    start = _event_id(last_event_id, "header.last-event-id")
    return start if start is not None else _event_id(since, "query.since")


@router.get(
    "/events",
    response_class=EventStreamResponse,
    responses=problem_responses(400, 422),
    summary="Live stream of events (SSE); `Last-Event-ID` or `since` replays the log first",
)
async def stream_events(
    request: Request,
    caller: Reader,
    run: RunFilter = None,
    workflow: WorkflowFilter = None,
    type_: TypeFilter = None,
    start: Annotated[int | None, Depends(_start_id)] = None,
) -> Response:
    """Every committed event matching the filters; reconnects resume after the last id seen.

    Joined to the fan-out before the replay, so nothing falls between; live events already
    replayed are skipped by id.  A client too slow for its unsent bytes is dropped from the
    fan-out and catches up from the store.
    """
    writer = direct_writer(request.scope)
    stream = _Stream(caller.ctx, start or 0, run, workflow, _types(type_), writer)
    frames = counted(stream.frames(start is not None), caller.ctx.metrics.sse_clients)
    return EventStreamResponse(frames)


_parse_event_query, _EVENT_QUERY_DOC = query_model(EventQuery)


@router.get(
    "/events/history",
    response_model=EventPage,
    responses=problem_responses(400, 422),
    openapi_extra=_EVENT_QUERY_DOC,
    summary="The persisted event log, oldest first, paged",
)
async def history(
    caller: Reader, query: Annotated[EventQuery, Depends(_parse_event_query)]
) -> Response:
    """A page of events after `cursor`; pass `next` back as `cursor` for the following page."""
    after = _event_id(query.cursor, "query.cursor") or 0
    events = await caller.ctx.store.list_events(
        after=after,
        limit=query.limit,
        run_id=query.run,
        workflow=query.workflow,
        types=_types(query.type),
    )
    next_cursor = str(events[-1].id) if len(events) == query.limit else None
    return json_response({"items": [e.to_cloudevent() for e in events], "next": next_cursor})
