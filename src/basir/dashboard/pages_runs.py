"""Runs: the filtered, paginated list; a run with its DAG, tasks and logs; run controls."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Collection
from typing import Annotated, Any

from babel.numbers import format_decimal
from fastapi import APIRouter, Path, Request
from markupsafe import Markup
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from basir.dashboard import graph, timeline
from basir.dashboard.pages_resources import amount_text
from basir.dashboard.sessions import Session
from basir.dashboard.web import (
    SessionDep,
    can_operate,
    csrf_ok,
    csrf_page,
    dashboard_of,
    error_page,
    forbidden_page,
    render,
    render_fragment,
    render_off_loop,
    view_scope,
    with_headers,
)
from basir.errors import BasirError
from basir.i18n import _, current_locale, render_message
from basir.spec.models import NAME_PATTERN
from basir.states import RUN_ACTIVE, TASK_TERMINAL, RunStatus
from basir.store.records import EventRecord, TaskRecord

router = APIRouter(include_in_schema=False)

NAME_PATTERN_RE = re.compile(NAME_PATTERN)
RUN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
TASK_ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,62}(\[\d{1,9}\])?$"
RunId = Annotated[str, Path(pattern=RUN_ID_PATTERN)]
TaskId = Annotated[str, Path(pattern=TASK_ID_PATTERN)]
PAGE_SIZE = 25
TASKS_PAGE_SIZE = 100
BIG_RUN_TASKS = 200
MAX_CURSOR_CHARS = 512
CONTROLS = ("pause", "resume", "cancel", "retry")
TASK_CONTROLS = ("pause", "resume")
EVENTS_PAGE = 1000
MAX_TIMELINE_EVENTS = 20_000


def run_filters(query: Any) -> dict[str, str | None]:
    """Valid filters of the runs list (anything else is ignored, as a form would send)."""
    status = query.get("status") or None
    workflow = query.get("workflow") or None
    cursor = query.get("cursor") or None
    return {
        "status": status if status in {str(s) for s in RunStatus} else None,
        "workflow": workflow if workflow and NAME_PATTERN_RE.match(workflow) else None,
        "cursor": cursor if cursor and len(cursor) <= MAX_CURSOR_CHARS else None,
    }


@router.get("/runs")
async def runs_page(request: Request, session: SessionDep) -> Response:
    """A page of runs, newest first; `?part=table` is the live-refreshed table alone.

    The filters and table are rendered once per (what the principal may see, language, part,
    query) and kept until the next committed event (`DashboardContext.pages_cache`); only
    the layout around them, which holds the session's user and CSRF token, is per request.
    (`basir.api.hot_reads` answers the same from the cache before routing, when it can.)
    """
    ctx = dashboard_of(request)
    filters = run_filters(request.query_params)
    part = runs_part(request.query_params)

    async def load() -> tuple[int, Markup]:
        return await _runs_fragment(request, dict(filters), part)

    if ctx.pages_cache is None:
        value = await load()
    else:
        value = await ctx.pages_cache.get(runs_key(session, filters, part), load)
    return runs_answer(request, session, value, part)


def runs_part(query: Any) -> str:
    """ "table" for the live table fragment, else "main" (the whole page)."""
    return "table" if query.get("part") == "table" else "main"


def runs_key(session: Session, filters: dict[str, str | None], part: str) -> tuple[Any, ...]:
    """The cache key of a runs page: what the principal may see, language, part, filters."""
    return ("runs", view_scope(session), current_locale(), part, *filters.values())


def runs_answer(
    request: Request, session: Session, value: tuple[int, Markup], part: str
) -> Response:
    """The response around a rendered runs fragment: alone, or inside the page's layout."""
    since, html = value
    if part == "table":
        return with_headers(HTMLResponse(html))
    return render(request, "runs.html", {"since": since, "main": html}, session=session)


async def _runs_fragment(
    request: Request, filters: dict[str, str | None], part: str
) -> tuple[int, Markup]:
    """The event id the page is current to, and its table (`part` "table") or its filters
    and table ("main"), rendered in the active language."""
    store = dashboard_of(request).store
    since = await store.last_event_id()  # before the reads: a later change is replayed
    try:
        page = await store.list_runs(
            status=filters["status"],
            workflow=filters["workflow"],
            limit=PAGE_SIZE,
            cursor=filters["cursor"],
        )
    except ValueError:
        filters["cursor"] = None
        page = await store.list_runs(
            status=filters["status"], workflow=filters["workflow"], limit=PAGE_SIZE
        )
    values: dict[str, Any] = {"runs": page.items, "next": page.next, "filters": filters}
    if part == "table":
        return since, render_fragment("runs_table.html", values)
    values["statuses"] = [str(s) for s in RunStatus]
    values["workflow_names"] = [w.name for w in await store.list_workflows()]
    return since, render_fragment("runs_main.html", values)


async def _run_values(request: Request, run_id: str) -> dict[str, Any] | None:
    ctx = dashboard_of(request)
    since = await ctx.store.last_event_id()
    run = await ctx.store.get_run(run_id)
    if run is None:
        return None
    tasks = await ctx.store.get_tasks(run_id)
    pages = max(1, -(-len(tasks) // TASKS_PAGE_SIZE))
    text = request.query_params.get("tpage", "0")
    page = min(int(text), pages - 1) if text.isdigit() and len(text) <= 6 else 0
    shown = tasks[page * TASKS_PAGE_SIZE : (page + 1) * TASKS_PAGE_SIZE]
    live = ctx.engine.usage.live(run_id) if run.status in RUN_ACTIVE else {}
    return {
        "run": run,
        "tasks": shown,
        "details": task_details(shown, live),
        "task_count": len(tasks),
        "tpage": page,
        "tpages": pages,
        "active": run.status in RUN_ACTIVE,
        "terminal": {str(s) for s in TASK_TERMINAL},
        "poll_s": poll_seconds(len(tasks)),
        "since": since,
    }


@router.get("/runs/{run_id}")
async def run_page(request: Request, session: SessionDep, run_id: RunId) -> Response:
    """The run: status and controls, its DAG, tasks with attempts, outputs, errors and logs.

    `?part=head` and `?part=tasks` are the fragments the page refreshes live.
    """
    values = await _run_values(request, run_id)
    if values is None:
        return error_page(request, session, _("no run with id {run_id}", run_id=run_id), 404)
    part = request.query_params.get("part")
    template = {"head": "run_head.html", "tasks": "run_tasks.html"}.get(part or "", "run.html")
    return await render_off_loop(
        request, template, values, session=session, status_code=_poll_status(part, values)
    )


def task_details(
    tasks: list[TaskRecord], live: dict[str, dict[str, Any]]
) -> dict[str, dict[str, str]]:
    """Per task id, what the tasks table says beside the status, in the page's language: why a
    queued task waits, and what a task uses (sampled now while it runs, else its last attempt's
    peaks)."""
    found: dict[str, dict[str, str]] = {}
    for task in tasks:
        entry: dict[str, str] = {}
        if task.waiting and task.status == "queued":
            entry["waiting"] = render_message(task.waiting) or ""
        usage = live.get(task.task_id) or task.usage
        if usage:
            entry["usage"] = usage_text(usage)
        if entry:
            found[task.task_id] = entry
    return found


def usage_text(usage: dict[str, Any]) -> str:
    """`1.5 cores peak, 312.4 MiB peak, 4.2 s of cpu` in the page's language."""
    locale = current_locale()
    return _(
        "{cores} cores peak, {memory} peak, {seconds} s of cpu",
        cores=format_decimal(round(float(usage.get("peak_cpu_cores") or 0), 2), locale=locale),
        memory=amount_text("memory", float(usage.get("peak_memory_bytes") or 0)),
        seconds=format_decimal(round(float(usage.get("cpu_seconds") or 0), 1), locale=locale),
    )


def poll_seconds(size: int) -> int:
    """How often an active run's tasks table and timeline are re-read: 2 s, 10 s for big runs
    (a 1,000-task timeline costs the server tens of milliseconds per read)."""
    return 2 if size <= BIG_RUN_TASKS else 10


def _poll_status(part: str | None, values: dict[str, Any]) -> int:
    """200, or 286 for a fragment of a finished run: htmx then stops polling it.

    A busy run's task events never leave a quiet gap for the fragments' debounced triggers,
    so while a run is active its tasks table and timeline are also re-read (`poll_seconds`).
    """
    return 286 if part in ("tasks", "timeline") and not values["active"] else 200


@router.get("/runs/{run_id}/graph")
async def run_graph(request: Request, session: SessionDep, run_id: RunId) -> Response:
    """Nodes (with state and its label in the page's language) and edges of the run's DAG."""
    ctx = dashboard_of(request)
    run = await ctx.store.get_run(run_id)
    if run is None:
        return with_headers(JSONResponse({"nodes": [], "edges": []}, 404))
    workflow = await ctx.store.get_workflow(run.workflow, run.version)
    spec = workflow.spec if workflow is not None else {}
    tasks = await ctx.store.get_tasks(run_id)
    # Beside the loop: a 1,000-task graph is tens of milliseconds of Python.
    body = await asyncio.to_thread(lambda: JSONResponse(graph.graph_of(spec, tasks)))
    return with_headers(body)


async def _run_events(request: Request, run_id: str) -> list[EventRecord]:
    """The run's events, oldest first, page by page, at most `MAX_TIMELINE_EVENTS`."""
    store = dashboard_of(request).store
    events: list[EventRecord] = []
    after = 0
    while len(events) < MAX_TIMELINE_EVENTS:
        page = await store.list_events(after=after, limit=EVENTS_PAGE, run_id=run_id)
        events.extend(page)
        if len(page) < EVENTS_PAGE:
            break
        after = page[-1].id
    return events


@router.get("/runs/{run_id}/timeline")
async def run_timeline(request: Request, session: SessionDep, run_id: RunId) -> Response:
    """The Gantt timeline of the run's attempts, as a fragment (refreshed live)."""
    run = await dashboard_of(request).store.get_run(run_id)
    if run is None:
        return error_page(request, session, _("no run with id {run_id}", run_id=run_id), 404)
    bars = timeline.attempts(await _run_events(request, run_id))
    rtl = current_locale() == "ar"
    chart = timeline.layout(bars, time.time(), rtl=rtl)
    values = {
        "run": run,
        "chart": chart,
        "width": timeline.WIDTH,
        "label_w": timeline.LABEL_W,
        "active": run.status in RUN_ACTIVE,
        "poll_s": poll_seconds(len(bars)),
    }
    status_code = _poll_status("timeline", values)
    return await render_off_loop(
        request, "run_timeline.html", values, session=session, status_code=status_code
    )


async def _operator_form(
    request: Request, session: Session, action: str, allowed: Collection[str]
) -> tuple[Any, Response | None]:
    """The posted form of a control, or the page that refuses it (CSRF, role, action)."""
    form = await request.form()
    if not csrf_ok(session, form.get("csrf")):
        return form, csrf_page(request, session)
    if not can_operate(session):
        return form, forbidden_page(request, session)
    if action not in allowed:
        return form, error_page(request, session, _("unknown action"), 404)
    return form, None


async def _carried_out(
    request: Request, session: Session, run_id: str, control: Awaitable[object]
) -> Response:
    """Await an engine control: back to the run page, or the page saying why it was refused."""
    try:
        await control
    except BasirError as error:
        status = {"not_found": 404, "conflict": 409}.get(error.kind, 422)
        return error_page(request, session, error.message, status)
    return with_headers(RedirectResponse(f"/runs/{run_id}", status_code=303))


@router.post("/runs/{run_id}/{action}")
async def control(request: Request, session: SessionDep, run_id: RunId, action: str) -> Response:
    """Pause, resume, cancel or retry; only for users allowed to operate runs."""
    _form, refused = await _operator_form(request, session, action, CONTROLS)
    if refused is not None:
        return refused
    engine = dashboard_of(request).engine
    controls = {
        "pause": engine.pause_run,
        "resume": engine.resume_run,
        "cancel": engine.cancel_run,
        "retry": engine.retry_run,
    }
    control = controls[action](run_id, by=session.principal.user)
    return await _carried_out(request, session, run_id, control)


@router.post("/runs/{run_id}/tasks/{task_id}/{action}")
async def task_control(
    request: Request, session: SessionDep, run_id: RunId, task_id: TaskId, action: str
) -> Response:
    """Hold one task (stopping it first when it runs and `stop` is posted) or release it;
    only for users allowed to operate runs."""
    form, refused = await _operator_form(request, session, action, TASK_CONTROLS)
    if refused is not None:
        return refused
    engine = dashboard_of(request).engine
    user = session.principal.user
    if action == "pause":
        stop = form.get("stop") == "true"
        control = engine.pause_task(run_id, task_id, stop_running=stop, by=user)
    else:
        control = engine.resume_task(run_id, task_id, by=user)
    return await _carried_out(request, session, run_id, control)
