"""`/api/v1/resources`: pools (capacity, in use, by whom), waiting tasks, capacity overrides,
and from the metric history: analytics (bottlenecks), recommendations and forecasts."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from basir.api.deps import Operator, Reader, json_response
from basir.api.problems import problem_responses
from basir.monitoring import resource_report

router = APIRouter(prefix="/api/v1", tags=["resources"], responses=problem_responses(401, 403))

PoolName = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")]
DAY_S, WEEK_S = 86400.0, 7 * 86400.0
WindowQuery = Annotated[
    str | None, Query(max_length=20, description="how far back to look: 5m to 365d, e.g. 24h")
]


class ResourcesOut(BaseModel):
    """Every pool and every task waiting for one."""

    pools: list[dict[str, Any]]
    waiting: list[dict[str, Any]]


class CapacityIn(BaseModel):
    """A pool's new capacity: cores for cpu (0.5), a size or bytes for memory, slots."""

    model_config = ConfigDict(extra="forbid", strict=True)  # `true` is not a capacity of 1

    capacity: float | str = Field(description="cores for cpu, 16Gi or bytes for memory, slots")


@router.get("/resources", response_model=ResourcesOut, summary="Pools and waiting tasks")
async def resources_status(caller: Reader) -> Response:
    """`pools`: name, capacity, in_use and holders (run, task, amount) — cpu in cores, memory in
    bytes, others in slots; `waiting`: run, task, reason, and whether it holds the reservation."""
    return json_response(caller.ctx.engine.resources_status())


@router.put(
    "/resources/pools/{name}",
    response_model=dict[str, Any],
    responses=problem_responses(400, 404, 413, 422),
    summary="Set a pool's capacity, or add a custom pool (kept across restarts)",
)
async def set_pool(name: PoolName, body: CapacityIn, caller: Operator) -> Response:
    """Takes effect at once: waiting tasks that now fit start; running ones keep what they hold.
    A name that is not a pool yet adds a custom pool of `capacity` slots."""
    return json_response(await caller.ctx.engine.set_pool_capacity(name, body.capacity))


def _capacities(caller: Reader) -> dict[str, float]:
    """Every pool's capacity now (cores, bytes, slots), as the live engine has it."""
    return {p["name"]: p["capacity"] for p in caller.ctx.engine.resources_status()["pools"]}


@router.get(
    "/resources/analytics",
    response_model=dict[str, Any],
    responses=problem_responses(422),
    summary="Bottlenecks: which pools tasks waited for, utilisation, declared vs used",
)
async def resources_analytics(caller: Reader, window: WindowQuery = None) -> Response:
    """Over `window` (default 24h): per pool `waited_s` (seconds tasks waited for it),
    `mean_waiting`, utilisation mean / p95 / peak; `bottlenecks` (pools waited for, longest
    first); `tasks`: per workflow task, declared cpu and memory beside cpu at p95 and peak
    memory measured."""
    seconds = resource_report.parse_window(window, DAY_S)
    data = await resource_report.analytics(
        caller.ctx.store, _capacities(caller), seconds, time.time()
    )
    return json_response(data)


@router.get(
    "/resources/recommendations",
    response_model=dict[str, Any],
    responses=problem_responses(422),
    summary="What to change, in plain words (localised)",
)
async def resources_recommendations(caller: Reader, window: WindowQuery = None) -> Response:
    """`items`: `{kind, pool | workflow+task, current, suggested, message}`; kinds
    `raise_pool`, `lower_pool`, `lower_request`, `raise_request`.  Messages follow
    `Accept-Language` ("raise pool gradle from 2 to 3: tasks waited 41 min for it in the last
    24h")."""
    seconds = resource_report.parse_window(window, DAY_S)
    data = await resource_report.advise(caller.ctx.store, _capacities(caller), seconds, time.time())
    return json_response(data)


@router.get(
    "/resources/forecast",
    response_model=dict[str, Any],
    responses=problem_responses(422),
    summary="When each pool saturates at the current trend; capacity for a larger load",
)
async def resources_forecast(
    caller: Reader,
    window: WindowQuery = None,
    scale: Annotated[
        float | None, Query(description="a load multiplier: the capacity 2× the load needs")
    ] = None,
) -> Response:
    """Over `window` (default 7d), per pool: `utilisation_now` and `trend_per_day` (a linear
    fit of held / capacity), `daily_peak_offset` (the busiest hour of the day above the trend),
    `saturates_in_s` / `saturates_at` (null when not rising); with `scale`, `needed_capacity`."""
    seconds = resource_report.parse_window(window, WEEK_S)
    data = await resource_report.forecast(
        caller.ctx.store,
        _capacities(caller),
        seconds,
        time.time(),
        resource_report.check_scale(scale),
    )
    return json_response(data)
