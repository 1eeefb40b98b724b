"""Root probes, no auth: `/healthz` (alive), `/readyz` (store and engine), `/metrics`."""

from __future__ import annotations

import asyncio
from collections import Counter

from fastapi import APIRouter
from starlette.responses import Response

from basir.api.deps import ApiContext, Ctx, json_response
from basir.api.problems import problem_response, problem_responses
from basir.api.schemas import Ready, Status
from basir.i18n import _
from basir.monitoring.metrics import CONTENT_TYPE, StateSnapshot

router = APIRouter(tags=["health"])

READY_TIMEOUT_S = 2.0
# Scrapes count the tasks of at most this many active runs (bounded cost per scrape).
METRICS_MAX_RUNS = 500


@router.get("/healthz", response_model=Status, summary="The process is alive")
async def healthz() -> Response:
    """Always 200 while the process serves requests."""
    return json_response({"status": "ok"})


@router.get(
    "/readyz",
    response_model=Ready,
    responses=problem_responses(503),
    summary="The store answers, takes writes, and the engine runs",
)
async def readyz(ctx: Ctx) -> Response:
    """200 when the store answers, its writes go through and the engine's pump runs, else 503.

    503 says which: `store.unreachable` (no answer within a couple of seconds),
    `store.retrying` (writes fail with a transient error the engine is waiting out) or
    `engine.stopped` (the engine stopped on an error of its own).
    """
    try:
        alive = await asyncio.wait_for(ctx.store.ping(), READY_TIMEOUT_S)
    except Exception:
        alive = False
    if not alive:
        return problem_response(503, "store.unreachable", _("the store does not answer"), "/readyz")
    health = ctx.engine.health()
    if not health.pump_alive:
        reason = health.fault or _("not started")
        message = _("the engine is not running: {reason}", reason=reason)
        return problem_response(503, "engine.stopped", message, "/readyz")
    if health.store_retrying is not None:
        message = _("the store refuses writes; retrying: {error}", error=health.store_retrying)
        return problem_response(503, "store.retrying", message, "/readyz")
    return json_response({"status": "ready", "store": "ok", "engine": "running"})


async def store_snapshot(ctx: ApiContext) -> StateSnapshot:
    """Runs and tasks by state from the store's active runs (when the engine binds nothing)."""
    active = await ctx.store.active_runs()
    runs = Counter(str(run.status) for run in active)
    tasks: Counter[str] = Counter()
    for run in active[:METRICS_MAX_RUNS]:
        tasks.update(str(task.status) for task in await ctx.store.get_tasks(run.id))
    queued = tasks.get("queued", 0)
    return StateSnapshot(runs=dict(runs), tasks=dict(tasks), queue_depth=queued)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "content": {CONTENT_TYPE: {"schema": {"type": "string"}}},
            "description": "Prometheus text exposition",
        }
    },
    summary="Prometheus metrics (names basir_*)",
)
async def metrics(ctx: Ctx) -> Response:
    """The process's metrics in the Prometheus text format."""
    await ctx.metrics.refresh()
    return Response(ctx.metrics.render(), media_type=CONTENT_TYPE)
