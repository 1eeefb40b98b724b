"""The resources page: pools (capacity, in use, by whom) and the tasks waiting for them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from babel.numbers import format_decimal
from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from basir.dashboard import pool_chart
from basir.dashboard.web import SessionDep, dashboard_of, render, with_headers
from basir.i18n import _, current_locale

router = APIRouter(include_in_schema=False)

MEMORY_POOL = "memory"
_UNITS = ((1024.0**3, "GiB"), (1024.0**2, "MiB"), (1024.0, "KiB"))


@dataclass(frozen=True, slots=True)
class PoolRow:
    """One pool as the page shows it: amounts in people's units and the share in use."""

    name: str
    capacity: str
    in_use: str
    used_percent: int
    holders: list[dict[str, Any]]


def amount_text(pool: str, amount: float) -> str:
    """An amount of a pool for people: binary sizes for memory, else the number (cores for cpu,
    slots for the others)."""
    locale = current_locale()
    if pool == MEMORY_POOL:
        for size, unit in _UNITS:
            if amount >= size:
                return f"{format_decimal(round(amount / size, 1), locale=locale)} {unit}"
        return _("{n} bytes", n=format_decimal(amount, locale=locale))
    return format_decimal(amount, locale=locale)


def pool_rows(pools: list[dict[str, Any]]) -> list[PoolRow]:
    """The pools of `resources_status()`, by name, with the share of each in use (0–100)."""
    rows = []
    for pool in sorted(pools, key=lambda p: str(p["name"])):
        name, capacity, in_use = str(pool["name"]), float(pool["capacity"]), float(pool["in_use"])
        share = 0 if capacity <= 0 else min(100, round(100 * in_use / capacity))
        holders = [{**h, "amount": amount_text(name, float(h["amount"]))} for h in pool["holders"]]
        rows.append(
            PoolRow(name, amount_text(name, capacity), amount_text(name, in_use), share, holders)
        )
    return rows


@router.get("/resources")
async def resources_page(request: Request, session: SessionDep) -> Response:
    """Pools with capacity and use, and the waiting tasks with their reasons.

    `?part=live` is the fragment the page refreshes when tasks change; `?part=chart` the
    chart's data (JSON): each pool's use in percent per minute of the last hour, from the
    metric history (the chart is on the page only when the history has pool series).
    """
    ctx = dashboard_of(request)
    if request.query_params.get("part") == "chart":
        return with_headers(JSONResponse(await pool_chart.load(ctx.store)))
    status = ctx.engine.resources_status()
    values = {
        "since": await ctx.store.last_event_id(),
        "pools": pool_rows(status["pools"]),
        "waiting": status["waiting"],
        "chart": await pool_chart.has_history(ctx.store),
    }
    live = request.query_params.get("part") == "live"
    template = "resources_live.html" if live else "resources.html"
    return render(request, template, values, session=session)
