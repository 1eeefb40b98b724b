"""The audit page (admins only): who did what — the control events that name their actor."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from basir.dashboard.web import SessionDep, can_admin, dashboard_of, forbidden_page, render
from basir.store.records import EventRecord

router = APIRouter(include_in_schema=False)

# The events a person (or a schedule) causes, each recording `by`.
AUDIT_TYPES = (
    "run.queued",
    "run.paused",
    "run.resumed",
    "run.retried",
    "run.cancelling",
    "run.modified",
    "task.reset",
    "task.held",
    "task.released",
    "schedule.paused",
    "schedule.resumed",
    "schedule.backfill_requested",
)
# How far back one page looks (event ids), and how many entries it shows.
SCAN_EVENTS = 5000
PAGE_SIZE = 100
MAX_EVENT_ID = 10**15


def audit_entries(events: Iterable[EventRecord], limit: int = PAGE_SIZE) -> list[EventRecord]:
    """The events that name who caused them, newest first, at most `limit`."""
    named = [e for e in events if isinstance(e.data.get("by"), str) and e.data["by"]]
    return sorted(named, key=lambda e: e.id, reverse=True)[:limit]


def before_of(query: Any) -> int | None:
    """The `before` event id of an older page, when a valid one is given."""
    text = str(query.get("before") or "")
    return int(text) if text.isdigit() and 0 < int(text) <= MAX_EVENT_ID else None


@router.get("/audit")
async def audit_page(request: Request, session: SessionDep) -> Response:
    """Control events with their actor, newest first; `?before=ID` pages back."""
    if not can_admin(session):
        return forbidden_page(request, session, "admin")
    store = dashboard_of(request).store
    before = before_of(request.query_params) or (await store.last_event_id()) + 1
    after = max(0, before - 1 - SCAN_EVENTS)
    events = await store.list_events(after=after, limit=SCAN_EVENTS, types=AUDIT_TYPES)
    entries = audit_entries([e for e in events if e.id < before])
    older = entries[-1].id if len(entries) == PAGE_SIZE else (after + 1 if after > 0 else None)
    values = {"entries": entries, "older": older, "paged": before_of(request.query_params)}
    return render(request, "audit.html", values, session=session)
