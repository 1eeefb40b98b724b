"""A task's log on the dashboard: the bounded tail, then the rest followed live.

The panel first shows the end of the log (at most `logs.LOG_TAIL_BYTES`); while the task may
still write, the page's script follows it from the byte after that tail over Server-Sent
Events, the API's log stream served under the page's session.  Nothing is polled.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from starlette.responses import Response

from basir.api.log_stream import log_frames
from basir.dashboard import logs
from basir.dashboard.pages_runs import RunId, TaskId
from basir.dashboard.web import SessionDep, dashboard_of, error_page, render, with_headers
from basir.events.sse import EventStreamResponse, counted
from basir.i18n import _

router = APIRouter(include_in_schema=False)

MAX_OFFSET = 2**62
RECONNECT_MS = 1000  # how soon a browser that lost the stream asks again (SSE `retry`)
# States whose log is still growing: the panel follows them (a pending or held task's panel
# is re-read when the task moves, by the page's `task` events).
LOG_LIVE_STATES = frozenset({"queued", "running", "retrying"})


@router.get("/runs/{run_id}/tasks/{task_id}/log")
async def task_log(
    request: Request, session: SessionDep, run_id: RunId, task_id: TaskId
) -> Response:
    """The end of one task's log, as a fragment (or a page when opened directly)."""
    ctx = dashboard_of(request)
    tasks = await ctx.store.get_tasks(run_id)
    task = next((task for task in tasks if task.task_id == task_id), None)
    if task is None:
        return error_page(request, session, _("no task {task_id}", task_id=task_id), 404)
    live = task.status in LOG_LIVE_STATES
    path = logs.log_file(ctx.settings.logs_dir, run_id, task_id)
    tail = await logs.tail(path, whole_lines=live) if path is not None else logs.Tail("", False, 0)
    values = {
        "run_id": run_id,
        "task_id": task_id,
        "text": tail.text,
        "cut": tail.cut,
        "live": live,
        "offset": tail.offset,
        "keep_chars": logs.LOG_TAIL_BYTES,
    }
    if not request.headers.get("hx-request"):
        return render(request, "task_log_page.html", values, session=session)
    # 286: htmx stops any trigger of a fragment that has nothing more to fetch.
    return render(
        request, "task_log.html", values, session=session, status_code=200 if live else 286
    )


@router.get("/runs/{run_id}/tasks/{task_id}/log/stream")
async def task_log_stream(
    request: Request,
    session: SessionDep,
    run_id: RunId,
    task_id: TaskId,
    start: Annotated[int, Query(alias="from", ge=0, le=MAX_OFFSET)] = 0,
    last_event_id: Annotated[int | None, Header(ge=0, le=MAX_OFFSET)] = None,
) -> Response:
    """The log from byte `from` as `log` events, then `end` (the API's stream, by session).

    A browser that lost the stream reconnects with `Last-Event-ID`, which wins over `from`:
    it resumes after the last line it received, nothing lost or repeated.
    """
    ctx = dashboard_of(request)
    task = next((t for t in await ctx.store.get_tasks(run_id) if t.task_id == task_id), None)
    path = logs.log_file(ctx.settings.logs_dir, run_id, task_id)
    if task is None or path is None:
        return error_page(request, session, _("no task {task_id}", task_id=task_id), 404)
    offset = last_event_id if last_event_id is not None else start
    ids = (run_id, task_id)
    frames = _with_retry(log_frames(ctx.engine, ctx.shutdown, path, ids, offset, task.status))
    gauge = ctx.metrics.sse_clients if ctx.metrics is not None else None
    return with_headers(EventStreamResponse(counted(frames, gauge)))


async def _with_retry(frames: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The log's frames after a `retry` line: the browser reconnects within a second."""
    yield f"retry: {RECONNECT_MS}\n\n".encode()
    async for frame in frames:
        yield frame
