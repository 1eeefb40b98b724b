"""`/api/v1/events`: the live Server-Sent Events stream (with replay) and the paged history.

Replay without gaps or duplicates: the stream subscribes to the bus *first*, then replays
the persisted log after the client's last id, then serves live events, skipping any whose id
it has already sent.  Events reach the bus only after commit, so anything committed before
the subscription is in the replay, and anything after it is in the subscription.  A
subscriber that falls behind (its queue overflowed) replays from the store again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query
from fastapi.sse import EventSourceResponse, ServerSentEvent
from starlette.responses import Response

from basir.api.deps import ApiContext, Reader, json_response
from basir.api.problems import problem_responses
from basir.api.query import query_model
from basir.api.schemas import EVENT_TYPES_PATTERN, EventPage, EventQuery
from basir.errors import BasirError
from basir.events.bus import Subscription
from basir.i18n import _
from basir.spec.models import NAME_PATTERN
from basir.store.records import EventRecord

router = APIRouter(prefix="/api/v1", tags=["events"], responses=problem_responses(401, 403))

REPLAY_PAGE = 500
MAX_TYPES = 32
RECONNECT_MS = 1000
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


def _sse(event: EventRecord) -> ServerSentEvent:
    data = json.dumps(event.to_cloudevent(), ensure_ascii=False, separators=(",", ":"))
    return ServerSentEvent(raw_data=data, id=str(event.id))


class _Stream:
    """One client's position in the log and its live subscription."""

    def __init__(
        self,
        ctx: ApiContext,
        subscription: Subscription,
        last: int,
        run: str | None,
        workflow: str | None,
        types: tuple[str, ...] | None,
    ) -> None:
        self.ctx = ctx
        self.subscription = subscription
        self.last = last
        self.run = run
        self.workflow = workflow
        self.types = types

    async def replay(self) -> AsyncIterator[EventRecord]:
        """Persisted events after `last`, oldest first, page by page."""
        while True:
            page = await self.ctx.store.list_events(
                after=self.last,
                limit=REPLAY_PAGE,
                run_id=self.run,
                workflow=self.workflow,
                types=self.types,
            )
            for event in page:
                self.last = event.id
                yield event
            if len(page) < REPLAY_PAGE:
                return

    async def catch_up(self) -> AsyncIterator[EventRecord]:
        """After the subscription overflowed: replay from the store what it dropped."""
        self.subscription.lagged = False
        if self.last == 0:
            # Nothing sent yet: the oldest queued event bounds what was dropped.
            first = self.subscription.get_nowait()
            if first is None:
                return
            self.last = first.id - 1
        async for event in self.replay():
            yield event

    async def next_live(self, stop: asyncio.Task[bool]) -> EventRecord | None:
        """The next live event not yet sent, or None when the server shuts down."""
        while True:
            event = self.subscription.get_nowait()
            if event is None:
                getter = asyncio.ensure_future(self.subscription.get())
                try:
                    await asyncio.wait({getter, stop}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    # Shutdown, or the client went away while we waited: drop the getter.
                    if not getter.done():
                        getter.cancel()
                if getter.cancelled():
                    return None
                event = getter.result()
            if event.id > self.last:
                self.last = event.id
                return event


async def _start_id(
    since: Annotated[str | None, Query(max_length=20, description="replay after this id")] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=20)] = None,
) -> int | None:
    """Where a stream starts: `Last-Event-ID` (a reconnect) wins over `since`; None = live."""
    start = _event_id(last_event_id, "header.last-event-id")
    return start if start is not None else _event_id(since, "query.since")


@router.get(
    "/events",
    response_class=EventSourceResponse,
    responses=problem_responses(400, 422),
    summary="Live stream of events (SSE); `Last-Event-ID` or `since` replays the log first",
)
async def stream_events(
    caller: Reader,
    run: RunFilter = None,
    workflow: WorkflowFilter = None,
    type_: TypeFilter = None,
    start: Annotated[int | None, Depends(_start_id)] = None,
) -> AsyncIterator[ServerSentEvent]:
    """Every committed event matching the filters; reconnects resume after the last id seen."""
    types = _types(type_)
    subscription = caller.ctx.engine.bus.subscribe(_filter(run, workflow, types))
    caller.ctx.metrics.sse_clients.inc()
    stop = asyncio.ensure_future(caller.ctx.shutdown.wait())
    try:
        # Live only (no start id): everything from the subscription on is new, nothing to skip.
        stream = _Stream(caller.ctx, subscription, start or 0, run, workflow, types)
        if start is not None:
            async for old in stream.replay():
                yield _sse(old)
        yield ServerSentEvent(comment="live", retry=RECONNECT_MS)
        while True:
            if subscription.lagged:
                async for missed in stream.catch_up():
                    yield _sse(missed)
            live = await stream.next_live(stop)
            if live is None:
                return
            yield _sse(live)
    finally:
        stop.cancel()
        subscription.close()
        caller.ctx.metrics.sse_clients.dec()


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
