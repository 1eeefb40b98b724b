"""`/api/v1/export/{what}`: runs, tasks and events streamed as JSON Lines or CSV.

Pages are read from the store one after another and written out as they come, so a year of
history never sits in memory.  Rows have the API's own shapes (a run as `GET /runs` lists it,
an event as `GET /events/history` returns it), so an export reads back as the API's records.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from starlette.responses import StreamingResponse

from basir.api import views
from basir.api.deps import Reader
from basir.api.problems import problem_responses
from basir.monitoring.report_source import parse_moment
from basir.store.base import MAX_RUNS_PER_READ, Store
from basir.store.records import RunRecord, TaskRecord

router = APIRouter(prefix="/api/v1", tags=["export"], responses=problem_responses(401, 403))

EVENTS_PAGE = 1000
RUN_COLUMNS = tuple(views.run_summary(RunRecord("", "", 0, "")).keys())
TASK_COLUMNS = (
    "run_id",
    "task_id",
    "status",
    "attempts",
    "error",
    "parent_id",
    "queued_at",
    "started_at",
    "finished_at",
)
EVENT_COLUMNS = ("id", "type", "source", "specversion", "time", "subject", "data")
MEDIA = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}


def task_row(task: TaskRecord) -> dict[str, Any]:
    """A task row as exported."""
    return {
        "run_id": task.run_id,
        "task_id": task.task_id,
        "status": str(task.status),
        "attempts": task.attempts,
        "error": task.error,
        "parent_id": task.parent_id,
        "queued_at": views.iso(task.queued_at),
        "started_at": views.iso(task.started_at),
        "finished_at": views.iso(task.finished_at),
    }


async def _runs_in(
    store: Store, since: float, until: float, workflow: str | None
) -> AsyncIterator[list[RunRecord]]:
    """Pages of runs created in `[since, until)`, newest first."""
    cursor: str | None = None
    while True:
        page = await store.list_runs(workflow=workflow, limit=MAX_RUNS_PER_READ, cursor=cursor)
        yield [run for run in page.items if since <= run.created_at < until]
        if page.next is None or (page.items and page.items[-1].created_at < since):
            return
        cursor = page.next


async def run_rows(
    store: Store, since: float, until: float, workflow: str | None
) -> AsyncIterator[dict[str, Any]]:
    """Runs as `GET /runs` lists them."""
    async for runs in _runs_in(store, since, until, workflow):
        for run in runs:
            yield views.run_summary(run)


async def task_rows(
    store: Store, since: float, until: float, workflow: str | None
) -> AsyncIterator[dict[str, Any]]:
    """The tasks of the runs created in the window."""
    async for runs in _runs_in(store, since, until, workflow):
        for task in await store.get_tasks_of([run.id for run in runs]):
            yield task_row(task)


async def event_rows(
    store: Store, since: float, until: float, workflow: str | None
) -> AsyncIterator[dict[str, Any]]:
    """Events in the window, oldest first, as `GET /events/history` returns them."""
    after = 0
    while True:
        events = await store.list_events(after=after, limit=EVENTS_PAGE, workflow=workflow)
        for event in events:
            if event.time >= until:
                return
            if event.time >= since:
                yield event.to_cloudevent()
        if len(events) < EVENTS_PAGE:
            return
        after = events[-1].id


SOURCES: dict[str, tuple[Callable[..., AsyncIterator[dict[str, Any]]], tuple[str, ...]]] = {
    "runs": (run_rows, RUN_COLUMNS),
    "tasks": (task_rows, TASK_COLUMNS),
    "events": (event_rows, EVENT_COLUMNS),
}


async def as_jsonl(rows: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    """One JSON object per line."""
    async for row in rows:
        yield (json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


async def as_csv(
    rows: AsyncIterator[dict[str, Any]], columns: tuple[str, ...]
) -> AsyncIterator[bytes]:
    """A header, then one line per row; nested values as JSON text."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    async for row in rows:
        writer.writerow(
            {
                k: json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v
                for k, v in row.items()
            }
        )
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


@router.get(
    "/export/{what}",
    response_class=StreamingResponse,
    responses={
        **problem_responses(422),
        200: {
            "content": {
                "application/x-ndjson": {"schema": {"type": "string"}},
                "text/csv": {"schema": {"type": "string"}},
            },
            "description": "The records, streamed",
        },
    },
    summary="Export runs, tasks or events as JSON Lines or CSV, streamed",
)
async def export(
    caller: Reader,
    what: Annotated[Literal["runs", "tasks", "events"], Path()],
    format_: Annotated[Literal["jsonl", "csv"], Query(alias="format")] = "jsonl",
    since: Annotated[
        str | None, Query(description="ISO 8601, epoch seconds or a duration ago; default all")
    ] = None,
    until: Annotated[
        str | None, Query(description="ISO 8601, epoch seconds or a duration ago; default now")
    ] = None,
    workflow: Annotated[str | None, Query(max_length=200)] = None,
) -> StreamingResponse:
    """Runs (by creation), their tasks, or events (by time) in `[since, until)`, streamed."""
    now = time.time()
    start = parse_moment(since, "since", now) or 0.0
    end = parse_moment(until, "until", now) or now + 1
    source, columns = SOURCES[what]
    rows = source(caller.ctx.store, start, end, workflow)
    body = as_jsonl(rows) if format_ == "jsonl" else as_csv(rows, columns)
    filename = f"basir-{what}.{format_}"
    return StreamingResponse(
        body,
        media_type=MEDIA[format_],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
