"""`/api/v1/reports/schedules`: performance reports sent on a cron through a notification route."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel
from starlette.responses import Response

from basir.api.deps import Caller, Reader, allow, json_response
from basir.api.problems import problem_responses
from basir.monitoring.report_render import iso
from basir.monitoring.report_schedules import ReportSchedule, ReportScheduler, validate_schedule
from basir.security.auth import Permission

router = APIRouter(prefix="/api/v1", tags=["reports"], responses=problem_responses(401, 403))

Admin = Annotated[Caller, Depends(allow(Permission.ADMIN))]
ScheduleName = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")]


class ScheduleView(BaseModel):
    """A report schedule and when it last sent (or was created)."""

    name: str
    cron: str
    timezone: str
    window: str
    route: str
    last: str


class ScheduleList(BaseModel):
    """Report schedules, by name."""

    items: list[ScheduleView]


def _scheduler(caller: Caller) -> ReportScheduler:
    found = caller.ctx.report_schedules
    assert found is not None  # create_app always sets it
    return found


def schedule_view(schedule: ReportSchedule, last: float) -> dict[str, Any]:
    """The public shape of a schedule."""
    return {**schedule.model_dump(), "last": iso(last)}


@router.get("/reports/schedules", response_model=ScheduleList, summary="Scheduled reports")
async def list_schedules(caller: Reader) -> Response:
    """Every report schedule, by name."""
    found = await _scheduler(caller).schedules()
    return json_response({"items": [schedule_view(s, last) for s, last in found]})


@router.post(
    "/reports/schedules",
    status_code=201,
    response_model=ScheduleView,
    responses={
        200: {"model": ScheduleView, "description": "replaced a schedule of the same name"},
        **problem_responses(400, 413, 422),
    },
    summary="Create (201) or replace (200) a scheduled report",
)
async def put_schedule(body: dict[str, Any], caller: Admin) -> Response:
    """`{name, cron, timezone?, window?, route}`: the report of `window` sent at each fire."""
    schedule = validate_schedule(body)
    scheduler = _scheduler(caller)
    created = await scheduler.put(schedule)
    last = next(last for s, last in await scheduler.schedules() if s.name == schedule.name)
    return json_response(schedule_view(schedule, last), 201 if created else 200)


@router.delete(
    "/reports/schedules/{name}",
    status_code=204,
    responses=problem_responses(404, 422),
    summary="Delete a scheduled report",
)
async def delete_schedule(name: ScheduleName, caller: Admin) -> Response:
    """Stop sending this report."""
    await _scheduler(caller).delete(name)
    return Response(status_code=204)
