"""The scheduler page: schedules (next fire in their own zone), pause/resume, queue waits."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import RedirectResponse, Response

from basir.coordinator.analytics import scheduler_analytics
from basir.coordinator.schedule_controls import set_paused
from basir.dashboard.pages_boards import window_labels
from basir.dashboard.web import (
    SessionDep,
    can_operate,
    csrf_ok,
    csrf_page,
    dashboard_of,
    error_page,
    forbidden_page,
    render,
    with_headers,
)
from basir.errors import BasirError
from basir.i18n import _
from basir.monitoring.snapshot import oldest_queued_at
from basir.scheduler.analytics import CLASSES, parse_window

router = APIRouter(include_in_schema=False)

# The windows the page offers; the analytics accept any duration, the page only these.
WINDOWS = ("15m", "1h", "6h", "24h", "7d")
DEFAULT_WINDOW = "1h"
ScheduleName = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}(:[0-9]{1,3})?$")]
SCHEDULE_ACTIONS = {"pause": True, "resume": False}


def wait_groups(stats: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """The rows of the waits table: each queue, then each priority class (highest first)."""
    queues = [("queue", name, group) for name, group in stats["queues"].items()]
    classes = [("class", name, stats["classes"][name]) for name, _floor in CLASSES]
    return queues + [row for row in classes if row[2] is not None]


def oldest_wait(queued_at: float | None, now: float) -> float | None:
    """How long the longest-waiting queued task has waited so far (None: nothing waits)."""
    return None if queued_at is None else max(0.0, now - queued_at)


@router.get("/scheduler")
async def scheduler_page(request: Request, session: SessionDep) -> Response:
    """Every schedule with its last and next fire; queue waits over the chosen window.

    `?part=live` is the live-refreshed analytics fragment.
    """
    ctx = dashboard_of(request)
    window = request.query_params.get("window") or DEFAULT_WINDOW
    if window not in WINDOWS:
        message = _(
            "unknown window {window}; choose one of {windows}",
            window=window,
            windows=", ".join(WINDOWS),
        )
        return error_page(request, session, message, 422)
    stats = await scheduler_analytics(ctx.store, parse_window(window))
    values = {
        "since": await ctx.store.last_event_id(),
        "schedules": await ctx.store.list_schedules(),
        "stats": stats,
        "waits": wait_groups(stats),
        "ready_now": len(ctx.engine.flow.ready),
        "oldest_wait": oldest_wait(oldest_queued_at(ctx.engine), time.time()),
        "window": window,
        "windows": WINDOWS,
        "window_labels": window_labels(),
    }
    live = request.query_params.get("part") == "live"
    return render(
        request, "scheduler_live.html" if live else "scheduler.html", values, session=session
    )


@router.post("/scheduler/{name}/{action}")
async def schedule_control(
    request: Request, session: SessionDep, name: ScheduleName, action: str
) -> Response:
    """Pause or resume a schedule (or all of a workflow's); operators and admins only."""
    form = await request.form()
    if not csrf_ok(session, form.get("csrf")):
        return csrf_page(request, session)
    if not can_operate(session):
        return forbidden_page(request, session)
    if action not in SCHEDULE_ACTIONS:
        return error_page(request, session, _("unknown action"), 404)
    try:
        await set_paused(
            dashboard_of(request).store, name, SCHEDULE_ACTIONS[action], session.principal.user
        )
    except BasirError as error:
        status = {"not_found": 404, "conflict": 409}.get(error.kind, 422)
        return error_page(request, session, error.message, status)
    return with_headers(RedirectResponse("/scheduler", status_code=303))
