"""The reports page: the performance report of a chosen window, and its exports."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from markupsafe import Markup, escape
from starlette.responses import JSONResponse, Response

from basir.dashboard.web import SessionDep, dashboard_of, format_when, render, with_headers
from basir.errors import BasirError
from basir.i18n import _
from basir.monitoring.report_render import iso, to_csv, to_html, to_json
from basir.monitoring.report_source import performance_report, window

router = APIRouter(include_in_schema=False)

MAX_MOMENT_CHARS = 64
PRESETS = ("24h", "7d", "30d")
DEFAULT_SINCE = "7d"
EXPORTS = ("csv", "json", "html")


def report_window(query: Any) -> tuple[str, str, dict[str, str]]:
    """The `since` and `until` texts asked (default: the last 7 days), and errors by field."""
    since = str(query.get("since") or DEFAULT_SINCE).strip()
    until = str(query.get("until") or "").strip()
    errors = {
        name: _("at most {n} characters", n=MAX_MOMENT_CHARS)
        for name, text in (("since", since), ("until", until))
        if len(text) > MAX_MOMENT_CHARS
    }
    return since, until, errors


def window_text(since: float, until: float) -> Markup:
    """ "Runs created from … to …" with both times formatted for the page's language."""
    text = escape(_("Runs created from {since} to {until}"))
    return Markup(text).format(since=format_when(since), until=format_when(until))


def _errors_of(error: BasirError) -> dict[str, str]:
    found = {str(d.get("field")): str(d.get("message")) for d in error.details if d.get("field")}
    return found or {"since": error.message}


@router.get("/reports")
async def reports_page(request: Request, session: SessionDep) -> Response:
    """Per workflow and task: runs, outcomes, durations and waits over the chosen window."""
    since, until, errors = report_window(request.query_params)
    report = None
    if not errors:
        try:
            start, end = window(since, until or None)
            report = await performance_report(dashboard_of(request).store, start, end)
        except BasirError as error:
            errors = _errors_of(error)
    values = {
        "since": since,
        "until": until,
        "presets": PRESETS,
        "errors": errors,
        "report": report,
        "window_text": window_text(report.since, report.until) if report else None,
        "exports": EXPORTS,
    }
    return render(
        request, "reports.html", values, session=session, status_code=422 if errors else 200
    )


@router.get("/reports/export")
async def export_report(request: Request, session: SessionDep) -> Response:
    """The report as CSV, JSON or a standalone HTML page in the page's language."""
    since, until, errors = report_window(request.query_params)
    format_ = request.query_params.get("format") or "csv"
    if format_ not in EXPORTS:
        errors["format"] = _("choose csv, json or html")
    try:
        start, end = window(since, until or None) if not errors else (0.0, 0.0)
    except BasirError as error:
        errors = _errors_of(error)
    if errors:
        return with_headers(JSONResponse({"errors": errors}, 422))
    report = await performance_report(dashboard_of(request).store, start, end)
    name = f"basir-report-{iso(start)}-{iso(end)}".replace(":", "")
    if format_ == "json":
        response: Response = JSONResponse(to_json(report))
    elif format_ == "csv":
        response = Response(to_csv(report), media_type="text/csv; charset=utf-8")
    else:
        response = Response(to_html(report), media_type="text/html; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{format_}"'
    return with_headers(response)
