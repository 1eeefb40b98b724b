"""`/api/v1/runs/{run_id}/tasks/{task_id}/…`: hold and release one task, read its log."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC
from typing import Annotated

from fastapi import APIRouter, Body, Header, Path, Query
from starlette.responses import Response, StreamingResponse

from basir.api import logs, views
from basir.api.deps import ApiContext, Operator, Reader, json_response
from basir.api.log_stream import log_frames
from basir.api.problems import problem_responses
from basir.api.routes.runs import RunId
from basir.api.schemas import TaskPause, TaskState
from basir.engine.errors import run_not_found, task_not_found
from basir.events.sse import EventStreamResponse
from basir.states import TASK_TERMINAL
from basir.store.records import EventRecord, TaskRecord

router = APIRouter(prefix="/api/v1", tags=["runs"], responses=problem_responses(401, 403))

TASK_ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,62}(\[\d{1,9}\])?$"
TaskId = Annotated[str, Path(pattern=TASK_ID_PATTERN)]
LOG_EVENT_SCHEMA = {  # one Server-Sent Event of a log stream
    "type": "object",
    "properties": {
        "event": {"type": "string", "enum": ["log", "end"]},
        "id": {"type": "string", "pattern": "^[0-9]+$"},
        "data": {"type": "string"},
    },
    "required": ["event", "id", "data"],
}


async def _task(ctx: ApiContext, run_id: str, task_id: str) -> TaskRecord:
    if await ctx.store.get_run(run_id) is None:
        raise run_not_found(run_id)
    for task in await ctx.store.get_tasks(run_id):
        if task.task_id == task_id:
            return task
    raise task_not_found(run_id, task_id)


@router.post(
    "/runs/{run_id}/tasks/{task_id}/pause",
    response_model=TaskState,
    responses=problem_responses(404, 409, 422),
    summary="Hold a task before it starts (or stop and re-queue it if running and asked)",
)
async def pause_task(
    run_id: RunId,
    task_id: TaskId,
    caller: Operator,
    body: Annotated[TaskPause | None, Body()] = None,
) -> Response:
    """Hold one task; `stop_running` also stops a running attempt without spending a retry."""
    request = body or TaskPause()
    resume_at = None
    if request.resume_at is not None:
        moment = request.resume_at
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        resume_at = moment.timestamp()
    task = await caller.ctx.engine.pause_task(
        run_id,
        task_id,
        stop_running=request.stop_running,
        resume_at=resume_at,
        by=caller.user,
    )
    return json_response(views.task_state(task))


@router.post(
    "/runs/{run_id}/tasks/{task_id}/resume",
    response_model=TaskState,
    responses=problem_responses(404, 409, 422),
    summary="Release a held task",
)
async def resume_task(run_id: RunId, task_id: TaskId, caller: Operator) -> Response:
    """Release a held task so it may start."""
    task = await caller.ctx.engine.resume_task(run_id, task_id, by=caller.user)
    return json_response(views.task_state(task))


@router.get(
    "/runs/{run_id}/tasks/{task_id}/logs",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "the log (streamed until the task ends with follow=true)",
        },
        **problem_responses(404, 422),
    },
    summary="A task's log: all of it, the last `tail` lines, and with `follow` new lines live",
)
async def task_logs(
    run_id: RunId,
    task_id: TaskId,
    caller: Reader,
    tail: Annotated[int | None, Query(ge=0, le=logs.MAX_TAIL_LINES)] = None,
    follow: Annotated[bool, Query()] = False,
) -> Response:
    """Plain text; with `follow=true` the response stays open until the task has ended."""
    task = await _task(caller.ctx, run_id, task_id)
    path = logs.log_path(caller.ctx.settings.logs_dir, run_id, task_id)
    if path is None:
        raise task_not_found(run_id, task_id)
    offset = await logs.start_offset(path, tail)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    if not follow or task.status in TASK_TERMINAL:
        return StreamingResponse(
            logs.read_from(path, offset), media_type="text/plain; charset=utf-8", headers=headers
        )

    def accept(event: EventRecord) -> bool:
        return event.run_id == run_id and event.task_id == task_id

    async def finished() -> bool:
        current = await _task(caller.ctx, run_id, task_id)
        return current.status in TASK_TERMINAL

    async def stream() -> AsyncIterator[bytes]:
        with caller.ctx.engine.bus.subscribe(accept) as wake:
            async for chunk in logs.follow(path, offset, finished, wake, caller.ctx.shutdown):
                yield chunk

    return StreamingResponse(stream(), media_type="text/plain; charset=utf-8", headers=headers)


@router.get(
    "/runs/{run_id}/tasks/{task_id}/logs/stream",
    response_class=EventStreamResponse,
    responses={
        200: {
            "content": {"text/event-stream": {"schema": LOG_EVENT_SCHEMA}},
            "description": "`log` events of whole lines (id: byte offset after them), then `end`",
        },
        **problem_responses(404, 422),
    },
    summary="A task's log live over Server-Sent Events, resumable with Last-Event-ID",
)
async def task_log_stream(
    run_id: RunId,
    task_id: TaskId,
    caller: Reader,
    tail: Annotated[int | None, Query(ge=0, le=logs.MAX_TAIL_LINES)] = None,
    last_event_id: Annotated[int | None, Header(ge=0, le=2**62)] = None,
) -> Response:
    """`log` events as lines are written, an `end` event with the task's final status.

    Each event's id is the log's byte offset after its lines: reconnecting with
    `Last-Event-ID` resumes exactly there (it wins over `tail`).
    """
    task = await _task(caller.ctx, run_id, task_id)
    path = logs.log_path(caller.ctx.settings.logs_dir, run_id, task_id)
    if path is None:
        raise task_not_found(run_id, task_id)
    offset = last_event_id if last_event_id is not None else await logs.start_offset(path, tail)
    ctx = caller.ctx
    frames = log_frames(ctx.engine, ctx.shutdown, path, (run_id, task_id), offset, task.status)
    return EventStreamResponse(frames)
