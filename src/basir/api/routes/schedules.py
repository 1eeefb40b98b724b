"""`/api/v1/schedules` (list, pause, resume, backfill; NAME: workflow or schedule id) and
`/api/v1/scheduler/analytics`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from starlette.responses import Response

from basir.api.deps import Operator, Reader, json_response
from basir.api.problems import problem_responses
from basir.api.schemas import ScheduleList
from basir.coordinator.backfill import request_backfill
from basir.coordinator.schedule_controls import (
    MAX_UPCOMING,
    next_fires_view,
    schedule_view,
    set_paused,
)
from basir.scheduler.analytics import parse_window

router = APIRouter(prefix="/api/v1", tags=["schedules"], responses=problem_responses(401, 403))

# A workflow name, or a schedule id from the list: `<workflow>:<position>` of an `on.schedule`
# entry, `<workflow>:at:<token>` of a one-off `run_at`.
ScheduleName = Annotated[
    str, Path(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}(:[0-9]{1,3}|:at:[0-9a-f]{12})?$")
]


@router.get(
    "/schedules",
    response_model=ScheduleList,
    summary="Every schedule, with its last and next fire",
)
async def list_schedules(caller: Reader) -> Response:
    """`{"items": [...]}`: workflow, cron, time zone, paused flag, last and next fire (ISO 8601
    with the schedule's own offset)."""
    records = await caller.ctx.store.list_schedules()
    return json_response({"items": [schedule_view(r) for r in records]})


class NextFires(BaseModel):
    """The next fire times of each schedule NAME means, in the schedule's own zone."""

    items: list[dict[str, Any]]


@router.get(
    "/schedules/{name}/next",
    response_model=NextFires,
    responses=problem_responses(400, 404, 422),
    summary="The next fire times of a workflow's schedules (or of one schedule by id)",
)
async def next_fires(
    name: ScheduleName,
    caller: Reader,
    n: Annotated[int, Query(ge=1, le=MAX_UPCOMING, description="how many fires")] = 5,
) -> Response:
    """`{"items": [{id, timezone, next: [...]}]}`: ISO 8601 with the schedule's own offset,
    jitter and the schedule's window included (what `basir schedules next` prints)."""
    return json_response({"items": await next_fires_view(caller.ctx.store, name, n)})


@router.post(
    "/schedules/{name}/pause",
    response_model=ScheduleList,
    responses=problem_responses(400, 404, 413, 422),
    summary="Pause a workflow's schedules (or one schedule by id)",
)
async def pause_schedule(name: ScheduleName, caller: Operator) -> Response:
    """Stored: no server on this store fires them until they are resumed."""
    records = await set_paused(caller.ctx.store, name, True, caller.user)
    return json_response({"items": [schedule_view(r) for r in records]})


@router.post(
    "/schedules/{name}/resume",
    response_model=ScheduleList,
    responses=problem_responses(400, 404, 413, 422),
    summary="Resume paused schedules; missed fires follow their catchup policy",
)
async def resume_schedule(name: ScheduleName, caller: Operator) -> Response:
    """Resume; the fires missed while paused follow each schedule's `catchup`."""
    records = await set_paused(caller.ctx.store, name, False, caller.user)
    return json_response({"items": [schedule_view(r) for r in records]})


class BackfillIn(BaseModel):
    """A past window to backfill; times without an offset are read in the schedule's zone."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str = Field(alias="from", max_length=64, description="ISO 8601 start (inclusive)")
    to: str = Field(max_length=64, description="ISO 8601 end (inclusive, in the past)")
    max_active: StrictInt = Field(1, ge=1, le=100, description="backfill runs active at once")


class BackfillOut(BaseModel):
    """The stored backfill requests, one per schedule."""

    items: list[dict[str, Any]]


@router.post(
    "/schedules/{name}/backfill",
    status_code=202,
    response_model=BackfillOut,
    responses=problem_responses(400, 404, 413, 422),
    summary="Run the fires of a past window, with their own budget of active runs",
)
async def backfill_schedule(name: ScheduleName, body: BackfillIn, caller: Operator) -> Response:
    """Store a backfill; a running server starts its runs, `max_active` at a time."""
    requests = await request_backfill(
        caller.ctx.store, name, body.from_, body.to, body.max_active, caller.user
    )
    return json_response({"items": requests}, 202)


@router.get(
    "/scheduler/analytics",
    responses=problem_responses(422),
    summary="Queue waits, throughput, starvation and deadline hit rate over a window",
)
async def scheduler_analytics_route(
    caller: Reader, window: Annotated[str, Query(max_length=16)] = "1h"
) -> Response:
    """Per priority class and queue: wait p50/p95/p99, throughput per minute, longest wait;
    deadline hit rate; computed from the store."""
    from basir.coordinator.analytics import scheduler_analytics

    return json_response(await scheduler_analytics(caller.ctx.store, parse_window(window)))
