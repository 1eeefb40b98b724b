"""Monitoring routes: the built-in metric history and the performance report."""

from __future__ import annotations

import contextlib
import re
import time
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel
from starlette.responses import Response

from basir.api.deps import Reader, json_response, raw_json
from basir.api.problems import problem_responses
from basir.i18n import _, use_locale
from basir.monitoring.health_overview import assess
from basir.monitoring.health_probe import gather
from basir.monitoring.history_json import query_body
from basir.monitoring.history_query import (
    bad_query,
    parse_window,
    pick_resolution,
    series_buckets,
)
from basir.monitoring.report_render import iso, to_csv, to_html, to_json
from basir.monitoring.report_source import performance_report, window

router = APIRouter(prefix="/api/v1", tags=["monitoring"], responses=problem_responses(401, 403))

_NAME = re.compile(r"^basir_[a-z0-9_]{1,120}$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,63}$")


class MetricNames(BaseModel):
    """The metric names the history holds points of."""

    names: list[str]


class MetricSeries(BaseModel):
    """One series: its labels and `[time, value]` points."""

    labels: dict[str, str]
    points: list[list[float]]


class MetricQueryResult(BaseModel):
    """Points per series of one metric over `[from, to]`, one per `step`."""

    name: str
    start: float
    end: float
    step: int
    resolution: int
    by: str | None
    series: list[MetricSeries]


@router.get(
    "/metrics",
    response_model=MetricNames,
    summary="Names of the metrics in the built-in history",
)
async def metric_names(caller: Reader) -> Response:
    """Every `basir_*` sample name with at least one point in the history."""
    return json_response({"names": await caller.ctx.store.metrics_names()})


@router.get(
    "/metrics/query",
    response_model=MetricQueryResult,
    responses=problem_responses(422),
    summary="Points of one metric over a time range, per series",
)
async def metric_query(
    caller: Reader,
    name: Annotated[str, Query(description="a sample name, e.g. basir_runs_finished_total")],
    from_: Annotated[
        str | None, Query(alias="from", description="ISO 8601 or epoch seconds; default to-1h")
    ] = None,
    to: Annotated[str | None, Query(description="ISO 8601 or epoch seconds; default now")] = None,
    step: Annotated[str | None, Query(description="60s, 5m, 1h or seconds")] = None,
    by: Annotated[str | None, Query(description="a label to group (sum) series by")] = None,
) -> Response:
    """The history of `name`: per-minute or per-hour rollups when the range or step asks."""
    if not _NAME.match(name):
        raise bad_query("name", _("a metric name: basir_ then lowercase letters, digits and _"))
    if by is not None and not _LABEL.match(by):
        raise bad_query("by", _("a label name: letters, digits and _, not starting with a digit"))
    now = time.time()
    window = parse_window(from_, to, step, now)
    resolution = pick_resolution(window, now)
    points = await caller.ctx.store.metrics_rows(name, resolution, window.start, window.end)
    head = {
        "name": name,
        "start": window.start,
        "end": window.end,
        "step": window.step_s,
        "resolution": resolution,
        "by": by,
    }
    return raw_json(query_body(head, series_buckets(points, window.step_s, by)))


@router.get(
    "/reports/performance",
    responses={
        **problem_responses(422),
        200: {
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/csv": {"schema": {"type": "string"}},
                "text/html": {"schema": {"type": "string"}},
            },
            "description": "The report in the asked format",
        },
    },
    summary="Performance report per workflow and task over a window",
)
async def performance(
    caller: Reader,
    format_: Annotated[
        Literal["json", "csv", "html"], Query(alias="format", description="json, csv or html")
    ] = "json",
    since: Annotated[
        str | None, Query(description="ISO 8601, epoch seconds or a duration ago (7d); default 7d")
    ] = None,
    until: Annotated[
        str | None, Query(description="ISO 8601, epoch seconds or a duration ago; default now")
    ] = None,
    lang: Annotated[
        Literal["en", "ar"] | None, Query(description="language of the HTML page")
    ] = None,
) -> Response:
    """Runs created in `[since, until)`: successes, failures, durations, waits, deadlines."""
    start, end = window(since, until, field_prefix="query.")
    report = await performance_report(caller.ctx.store, start, end)
    if format_ == "csv":
        return Response(to_csv(report), media_type="text/csv; charset=utf-8")
    if format_ == "html":
        with use_locale(lang) if lang else contextlib.nullcontext():
            page = to_html(report)
        return Response(page, media_type="text/html; charset=utf-8")
    return json_response(to_json(report))


class ComponentHealth(BaseModel):
    """One component: green, amber or red, and why."""

    status: Literal["green", "amber", "red"]
    reasons: list[str]


class HealthOverview(BaseModel):
    """Overall status (the worst component's) and each component's."""

    status: Literal["green", "amber", "red"]
    checked_at: str
    components: dict[str, ComponentHealth]


@router.get(
    "/health",
    response_model=HealthOverview,
    summary="Health overview: green/amber/red for store, scheduler, workers, queues, alerts, disk",
)
async def health_overview(caller: Reader) -> Response:
    """Each part of Basir with its status and reasons in the caller's language."""
    ctx = caller.ctx
    now = time.time()
    facts = await gather(ctx.engine, ctx.settings.max_parallel, ctx.settings.home)
    overall, components = assess(facts)
    return json_response(
        {
            "status": overall,
            "checked_at": iso(now),
            "components": {
                name: {"status": v.status, "reasons": v.reasons} for name, v in components.items()
            },
        }
    )
