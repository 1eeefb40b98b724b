"""The overview page (`/`) and its live fragment."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from basir.dashboard import latency, overview
from basir.dashboard.web import SessionDep, dashboard_of, render, with_headers

router = APIRouter(include_in_schema=False)


@router.get("/")
async def overview_page(request: Request, session: SessionDep) -> Response:
    """Health, live numbers, a chart of the last hour, firing alerts, recent failures.

    `?part=live` is the refreshed fragment, `?part=chart` the chart's data (JSON).
    """
    ctx = dashboard_of(request)
    if request.query_params.get("part") == "chart":
        return with_headers(JSONResponse(await overview.load_chart(ctx)))
    values = {
        "since": await ctx.store.last_event_id(),
        "checks": await overview.health_checks(ctx),
        "kpis": await overview.load_kpis(ctx),
        "failures": await overview.recent_failures(ctx),
        "firing": await overview.firing_alerts(ctx),
        "latency_p95": latency.p95_last_hour(ctx),
    }
    if request.query_params.get("part") == "live":
        return render(request, "overview_live.html", values, session=session)
    return render(request, "overview.html", values, session=session)
