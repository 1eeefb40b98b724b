"""The resources page: pools (capacity, in use, by whom), the tasks waiting for them, the
reservations on a timeline, the namespace quotas with their use, recommendations and the
forecast of when each pool saturates.

It reads what the API's resource routes read, through the same service functions, and shows
every reader what the API shows every reader; the controls follow the API's roles: operators
delete reservations, administrators set quotas.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from babel.dates import format_datetime, format_timedelta
from babel.numbers import format_decimal
from fastapi import APIRouter, Path, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from basir.dashboard import pool_chart, resource_plans
from basir.dashboard.context import DashboardContext
from basir.dashboard.sessions import Session
from basir.dashboard.web import (
    SessionDep,
    can_admin,
    can_operate,
    csrf_ok,
    csrf_page,
    dashboard_of,
    error_page,
    forbidden_page,
    render,
    with_headers,
)
from basir.engine import resource_policies
from basir.errors import BasirError
from basir.i18n import _, current_locale
from basir.i18n.labels import pool_label
from basir.monitoring import resource_report
from basir.resources import policy_store
from basir.resources.fitting import SIZED

router = APIRouter(include_in_schema=False)

ReservationId = Annotated[str, Path(pattern=r"^rsv-[0-9a-f]{12}$")]
ADVICE_WINDOW_S = 86400.0  # as the API's recommendations by default
FORECAST_WINDOW_S = 7 * 86400.0  # as the API's forecast by default
PLANS_TTL_S = 60.0  # the history is sampled every few seconds; advice this old is fresh enough
QUOTA_FIELDS = ("namespace", "tasks", "cpu", "memory", "runs", "runs_per_hour", "policy", "weight")

KIB = 1024.0
MIB = 1024.0**2
GIB = 1024.0**3


@dataclass(frozen=True, slots=True)
class PoolRow:
    """One pool as the page shows it: amounts in people's units and the share in use."""

    name: str
    capacity: str
    in_use: str
    used_percent: int
    holders: list[dict[str, Any]]


def amount_text(pool: str, amount: float) -> str:
    """An amount of a pool for people: binary sizes for memory and disk (and a quota's memory),
    else the number (cores for cpu, slots for the others)."""
    locale = current_locale()
    if pool not in SIZED:
        return format_decimal(amount, locale=locale)
    # Whole messages, not a number and a unit: Arabic writes CLDR's short forms (غ.ب, م.ب,
    # ك.ب), and a translation may place the number where its language puts it.
    if amount >= GIB:
        return _("{n} GiB", n=format_decimal(round(amount / GIB, 1), locale=locale))
    if amount >= MIB:
        return _("{n} MiB", n=format_decimal(round(amount / MIB, 1), locale=locale))
    if amount >= KIB:
        return _("{n} KiB", n=format_decimal(round(amount / KIB, 1), locale=locale))
    return _("{n} bytes", n=format_decimal(amount, locale=locale))


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


def span_text(seconds: float | None) -> str:
    """A duration in words in the page's language (Babel): `2 hours`, `ساعتان`."""
    if seconds is None:
        return "—"
    return format_timedelta(timedelta(seconds=seconds), threshold=1.5, locale=current_locale())


def tick_text(moment: float) -> str:
    """A time on the timeline: weekday, hour and minute in UTC, in the page's language."""
    at = datetime.fromtimestamp(moment, UTC)
    text: str = format_datetime(at, "EEE HH:mm", locale=current_locale())
    return text


HELPERS = {"amount": amount_text, "span": span_text, "tick": tick_text, "pool": pool_label}


async def _quotas(ctx: DashboardContext) -> list[resource_plans.QuotaRow]:
    """Every namespace quota beside what the namespace holds now (the API's `GET quotas/{ns}`)."""
    return [resource_plans.quota_row(q) for q in await resource_policies.quotas_in_use(ctx.engine)]


async def _live(ctx: DashboardContext) -> dict[str, Any]:
    """What changes as tasks start and end: pools and waiting tasks."""
    status = ctx.engine.resources_status()
    return {"pools": pool_rows(status["pools"]), "waiting": status["waiting"]}


async def _quota_use(ctx: DashboardContext) -> dict[str, Any]:
    """Quotas and their use, which also change as tasks start and end."""
    return {"quotas": await _quotas(ctx)}


async def _reservations(ctx: DashboardContext) -> dict[str, Any]:
    """The reservations' timeline of the coming two days."""
    found = await policy_store.reservations(ctx.store)
    return {"timeline": resource_plans.timeline(found, time.time())}


async def _compute_plans(ctx: DashboardContext) -> dict[str, Any]:
    """Recommendations (last day) and forecast (from the last week), as the API computes them."""
    capacities = {p["name"]: p["capacity"] for p in ctx.engine.resources_status()["pools"]}
    now = time.time()
    advice = await resource_report.advise(ctx.store, capacities, ADVICE_WINDOW_S, now)
    forecast = await resource_report.forecast(ctx.store, capacities, FORECAST_WINDOW_S, now)
    return {
        "advice": advice["items"],
        "advice_window": ADVICE_WINDOW_S,
        "forecast_window": FORECAST_WINDOW_S,
        "forecast": resource_plans.forecast_rows(forecast["pools"]),
    }


def _fresh_plans(ctx: DashboardContext, now: float) -> dict[str, Any] | None:
    """The advice and forecast in the page's language computed less than `PLANS_TTL_S` ago."""
    hit = ctx.views.get(f"resources.plans.{current_locale()}")
    return hit[1] if hit is not None and now - hit[0] < PLANS_TTL_S else None


async def _plans(ctx: DashboardContext) -> dict[str, Any]:
    """The advice and forecast, computed at most once a `PLANS_TTL_S` per language for all
    viewers: a week of history takes a second or more to read and fit."""
    found = _fresh_plans(ctx, time.time())
    if found is not None:
        return found
    async with ctx.views_lock:
        found = _fresh_plans(ctx, time.time())  # another viewer may have just computed them
        if found is None:
            found = await _compute_plans(ctx)
            ctx.views[f"resources.plans.{current_locale()}"] = (time.time(), found)
    return found


PARTS = {
    "live": ("resources_live.html", _live),
    "quotas": ("resources_quotas.html", _quota_use),
    "reservations": ("resources_reservations.html", _reservations),
    "plans": ("resources_plans.html", _plans),
}


async def _page(
    request: Request,
    session: Session,
    *,
    form: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    reserve: Mapping[str, Any] | None = None,
    status: int = 200,
) -> Response:
    """The whole page; after a refused form, that form again with its values and errors."""
    ctx = dashboard_of(request)
    values = {
        "since": await ctx.store.last_event_id(),
        **HELPERS,
        **await _live(ctx),
        **await _quota_use(ctx),
        **await _reservations(ctx),
        **(_fresh_plans(ctx, time.time()) or {"plans_pending": True}),
        "chart": await pool_chart.has_history(ctx.store),
        "form": {k: str((form or {}).get(k) or "") for k in QUOTA_FIELDS},
        "errors": (errors or {}) if reserve is None else {},
        "rsv": {k: str((reserve or {}).get(k) or "") for k in resource_plans.RESERVATION_FIELDS},
        "rsv_errors": (errors or {}) if reserve is not None else {},
        "pool_names": sorted(p["name"] for p in ctx.engine.resources_status()["pools"]),
    }
    return render(request, "resources.html", values, session=session, status_code=status)


@router.get("/resources")
async def resources_page(request: Request, session: SessionDep) -> Response:
    """Pools, waiting tasks, quotas, reservations, recommendations and the forecast.

    `?part=live` and `?part=quotas` are the fragments the page refreshes when tasks change
    (pools, waiting tasks; quota use); `?part=reservations` and `?part=plans` the timeline and
    the advice, refreshed by the clock (the page fetches the advice once shown, unless it is
    already computed); `?part=chart` the chart's data (JSON): each pool's use in percent per
    minute of the last hour, from the metric history (the chart is on the page only when the
    history has pool series).
    """
    ctx = dashboard_of(request)
    part = request.query_params.get("part")
    if part == "chart":
        chart = await pool_chart.load(ctx.store)
        chart["labels"] = [pool_label(name) for name in chart["pools"]]  # the legend's names
        return with_headers(JSONResponse(chart))
    if part in PARTS:
        template, load = PARTS[part]
        return render(request, template, {**HELPERS, **await load(ctx)}, session=session)
    return await _page(request, session)


async def _checked(request: Request, session: Session, admin: bool) -> tuple[Any, Response | None]:
    """The posted form, or the page refusing it (CSRF, then the role the API asks for)."""
    form = await request.form()
    if not csrf_ok(session, form.get("csrf")):
        return form, csrf_page(request, session)
    if admin and not can_admin(session):
        return form, forbidden_page(request, session, "admin")
    if not admin and not can_operate(session):
        return form, forbidden_page(request, session)
    return form, None


@router.post("/resources/reservations")
async def create_reservation(request: Request, session: SessionDep) -> Response:
    """Reserve an amount of a pool (operators, as `POST /api/v1/resources/reservations`);
    errors beside the fields, or above them when the reservation's check refuses it."""
    form, refused = await _checked(request, session, admin=False)
    if refused is not None:
        return refused
    given, errors = resource_plans.reservation_form(form)
    if not errors:
        engine = dashboard_of(request).engine
        try:
            await resource_policies.add_reservation(engine, given, session.principal.user)
        except BasirError as error:
            errors["reservation"] = error.message
    if errors:
        return await _page(request, session, errors=errors, reserve=form, status=422)
    return with_headers(RedirectResponse("/resources#reservations", status_code=303))


@router.post("/resources/reservations/{reservation_id}/delete")
async def delete_reservation(
    request: Request, session: SessionDep, reservation_id: ReservationId
) -> Response:
    """Delete a reservation (operators, as `DELETE /api/v1/resources/reservations/{id}`)."""
    _form, refused = await _checked(request, session, admin=False)
    if refused is not None:
        return refused
    try:
        await resource_policies.delete_reservation(dashboard_of(request).engine, reservation_id)
    except BasirError as error:
        return error_page(request, session, error.message, 404)
    return with_headers(RedirectResponse("/resources#reservations", status_code=303))


@router.post("/resources/quotas")
async def set_quota(request: Request, session: SessionDep) -> Response:
    """Set a namespace's quota (administrators, as `PUT /api/v1/resources/quotas/{ns}`);
    errors are shown beside the fields, or above them when the quota's check refuses it."""
    form, refused = await _checked(request, session, admin=True)
    if refused is not None:
        return refused
    namespace, body, errors = resource_plans.quota_form(form)
    if not errors:
        try:
            await resource_policies.set_quota(dashboard_of(request).engine, namespace, body)
        except BasirError as error:
            errors["quota"] = error.message
    if errors:
        return await _page(request, session, form=form, errors=errors, status=422)
    return with_headers(RedirectResponse("/resources#quotas", status_code=303))
