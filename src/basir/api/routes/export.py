"""`/api/v1/export/{what}`: runs, tasks, events, audit entries and the metric history streamed
as JSON Lines, CSV or Parquet.

Pages are read from the store one after another and written out as they come, so a year of
history never sits in memory.  Rows have the API's own shapes (a run as `GET /runs` lists it,
an event as `GET /events/history` returns it), so an export reads back as the API's records.
Errors are written in English whoever asks: an export is data, like events, and the same
failure reads the same in every export (the API and the dashboard show them in their reader's
language).
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
from basir.api.export_metrics import METRIC_COLUMNS, metric_cells, metric_rows
from basir.api.export_parquet import as_parquet, check_parquet_available
from basir.api.problems import problem_responses
from basir.engine.report import iso
from basir.errors import BasirError
from basir.i18n import DEFAULT_LOCALE, _
from basir.i18n.deferred import render_in
from basir.monitoring.report_source import parse_moment
from basir.security.auth import Permission, require
from basir.store.audit_records import AuditEntry
from basir.store.base import MAX_RUNS_PER_READ, Store
from basir.store.records import EVENT_SOURCE, RunRecord, TaskRecord, cloudevent_time

router = APIRouter(prefix="/api/v1", tags=["export"], responses=problem_responses(401, 403))

# Rows per read and per chunk sent: what an export holds at a time (a page of rows, its
# text, its bytes). 2,000 rather than 5,000 keeps a million-event export within ~12 MB of
# the process's memory at no cost in rows per second (bench/export_bench.py).
EVENTS_PAGE = 2000
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
AUDIT_COLUMNS = tuple(views.audit_entry(AuditEntry(0.0, None, "")).keys())
MEDIA = {
    "jsonl": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}


def task_row(task: TaskRecord) -> dict[str, Any]:
    """A task row as exported."""
    return {
        "run_id": task.run_id,
        "task_id": task.task_id,
        "status": str(task.status),
        "attempts": task.attempts,
        "error": _english(task.error),
        "parent_id": task.parent_id,
        "queued_at": iso(task.queued_at),
        "started_at": iso(task.started_at),
        "finished_at": iso(task.finished_at),
    }


def _english(error: str | None) -> str | None:
    """A stored error (maybe a deferred message) as an export writes it: in English."""
    return None if error is None else render_in(DEFAULT_LOCALE, error)


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


Rows = list[dict[str, Any]]
# A page of rows as tuples in the export's column order, nested values as JSON text.
Cells = list[tuple[Any, ...]]
# One encoder for every row: `json.dumps` with options builds a new encoder per call.
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


async def run_rows(
    store: Store, since: float, until: float, workflow: str | None
) -> AsyncIterator[Rows]:
    """Pages of runs as `GET /runs` lists them."""
    async for runs in _runs_in(store, since, until, workflow):
        rows = []
        for run in runs:
            row = views.run_summary(run)
            row["error"] = _english(run.error)
            rows.append(row)
        yield rows


async def task_rows(
    store: Store, since: float, until: float, workflow: str | None
) -> AsyncIterator[Rows]:
    """Pages of the tasks of the runs created in the window."""
    async for runs in _runs_in(store, since, until, workflow):
        yield [task_row(task) for task in await store.get_tasks_of([run.id for run in runs])]


async def event_rows(
    store: Store, since: float, until: float, workflow: str | None
) -> AsyncIterator[Rows]:
    """Pages of events in the window, oldest first, as `GET /events/history` returns them."""
    after = 0
    while True:
        events = await store.list_events(after=after, limit=EVENTS_PAGE, workflow=workflow)
        page = [event.to_cloudevent() for event in events if since <= event.time < until]
        if page:
            yield page
        if len(events) < EVENTS_PAGE or events[-1].time >= until:
            return
        after = events[-1].id


async def event_jsonl(
    store: Store, since: float, until: float, workflow: str | None
) -> AsyncIterator[bytes]:
    """Events in the window as JSON Lines, a page per chunk, each line made by the store."""
    after = 0
    while True:
        lines = await store.list_event_lines(after=after, limit=EVENTS_PAGE, workflow=workflow)
        chunk = "".join([line + "\n" for _id, moment, line in lines if since <= moment < until])
        if chunk:
            yield chunk.encode()
        if len(lines) < EVENTS_PAGE or lines[-1][1] >= until:
            return
        after = lines[-1][0]


async def event_cells(
    store: Store, since: float, until: float, workflow: str | None
) -> AsyncIterator[Cells]:
    """Events in the window as tuples in `EVENT_COLUMNS` order (`data` as its stored JSON
    text), a page at a time: CSV and Parquet are written from these without a record or a
    dict per event, and without decoding `data` only to encode it again."""
    after = 0
    while True:
        rows = await store.list_event_rows(after=after, limit=EVENTS_PAGE, workflow=workflow)
        page = [
            (str(id_), type_, EVENT_SOURCE, "1.0", cloudevent_time(moment), subject, data)
            for id_, moment, type_, subject, data in rows
            if since <= moment < until
        ]
        if page:
            yield page
        if len(rows) < EVENTS_PAGE or rows[-1][1] >= until:
            return
        after = rows[-1][0]


async def audit_rows(
    store: Store, since: float, until: float, _workflow: str | None
) -> AsyncIterator[Rows]:
    """Pages of audit entries in the window, oldest first, as `GET /audit` lists them."""
    after = 0
    while True:
        page = await store.audit_list(after_id=after, limit=EVENTS_PAGE, since=since, until=until)
        if page:
            yield [views.audit_entry(entry) for entry in page]
        if len(page) < EVENTS_PAGE:
            return
        after = page[-1].id


SOURCES: dict[str, tuple[Callable[..., AsyncIterator[Rows]], tuple[str, ...]]] = {
    "runs": (run_rows, RUN_COLUMNS),
    "tasks": (task_rows, TASK_COLUMNS),
    "events": (event_rows, EVENT_COLUMNS),
    "audit": (audit_rows, AUDIT_COLUMNS),
}


async def as_jsonl(pages: AsyncIterator[Rows]) -> AsyncIterator[bytes]:
    """One JSON object per line; one chunk per page (a send per row would cost more than it)."""
    async for page in pages:
        yield "".join([_ENCODE(row) + "\n" for row in page]).encode()


def _cell(value: Any) -> Any:
    return _ENCODE(value) if isinstance(value, dict | list) else value


async def as_cells(pages: AsyncIterator[Rows], columns: tuple[str, ...]) -> AsyncIterator[Cells]:
    """Pages of dict rows as pages of tuples in `columns` order, nested values as JSON text."""
    async for page in pages:
        yield [tuple([_cell(row.get(column)) for column in columns]) for row in page]


async def as_csv(pages: AsyncIterator[Cells], columns: tuple[str, ...]) -> AsyncIterator[bytes]:
    """A header, then one line per row (`writerows` over a page of tuples); one chunk per page."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    async for page in pages:
        writer.writerows(page)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


def _metrics_body(
    store: Store, format_: str, window: tuple[float, float, float], filters: tuple[str | None, ...]
) -> AsyncIterator[bytes]:
    """The streamed file of the metric history; `filters` is `(name, workflow)`."""
    name, workflow = filters
    if format_ == "jsonl":
        return as_jsonl(metric_rows(store, window, name, workflow))
    cells = metric_cells(store, window, name, workflow)
    if format_ == "csv":
        return as_csv(cells, METRIC_COLUMNS)
    return as_parquet(cells, METRIC_COLUMNS)


def _body(
    store: Store, what: str, format_: str, window: tuple[float, float], workflow: str | None
) -> AsyncIterator[bytes]:
    """The streamed file of one export."""
    if what == "events" and format_ == "jsonl":
        return event_jsonl(store, *window, workflow)
    source, columns = SOURCES[what]
    if format_ == "jsonl":
        return as_jsonl(source(store, *window, workflow))
    if what == "events":
        cells = event_cells(store, *window, workflow)
    else:
        cells = as_cells(source(store, *window, workflow), columns)
    return as_csv(cells, columns) if format_ == "csv" else as_parquet(cells, columns)


@router.get(
    "/export/{what}",
    response_class=StreamingResponse,
    responses={
        **problem_responses(422),
        200: {
            "content": {
                "application/x-ndjson": {"schema": {"type": "string"}},
                "text/csv": {"schema": {"type": "string"}},
                "application/vnd.apache.parquet": {
                    "schema": {"type": "string", "format": "binary"}
                },
            },
            "description": "The records, streamed",
        },
    },
    summary="Export runs, tasks, events, audit entries or metric history as JSON Lines, CSV or "
    "Parquet",
)
async def export(
    caller: Reader,
    what: Annotated[Literal["runs", "tasks", "events", "audit", "metrics"], Path()],
    format_: Annotated[Literal["jsonl", "csv", "parquet"], Query(alias="format")] = "jsonl",
    since: Annotated[
        str | None, Query(description="ISO 8601, epoch seconds or a duration ago; default all")
    ] = None,
    until: Annotated[
        str | None, Query(description="ISO 8601, epoch seconds or a duration ago; default now")
    ] = None,
    workflow: Annotated[str | None, Query(max_length=200)] = None,
    name: Annotated[
        str | None, Query(max_length=200, description="metrics only: one metric's points")
    ] = None,
) -> StreamingResponse:
    """Runs (by creation), their tasks, events, audit entries or metric points (by time) in
    `[since, until)`, streamed.  The audit log is for admins only and has no workflow; `name`
    picks one metric of the history and is refused elsewhere."""
    if name is not None and what != "metrics":
        raise BasirError(
            "request.invalid",
            _("only the metric history can be filtered by name"),
            details=[{"field": "query.name", "message": _("allowed only with metrics")}],
        )
    if what == "audit":
        require(caller.principal, Permission.ADMIN)
        if workflow is not None:
            raise BasirError(
                "request.invalid",
                _("the audit log cannot be filtered by workflow"),
                details=[{"field": "query.workflow", "message": _("not allowed with audit")}],
            )
    now = time.time()
    start = parse_moment(since, "query.since", now) or 0.0
    end = parse_moment(until, "query.until", now) or now + 1
    if format_ == "parquet":
        check_parquet_available()
    if what == "metrics":
        body = _metrics_body(caller.ctx.store, format_, (start, end, now), (name, workflow))
    else:
        body = _body(caller.ctx.store, what, format_, (start, end), workflow)
    filename = f"basir-{what}.{format_}"
    return StreamingResponse(
        body,
        media_type=MEDIA[format_],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
