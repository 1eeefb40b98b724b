"""The alerts page: firing and resolved alerts, acknowledging, silences and silencing."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import RedirectResponse, Response

from basir.dashboard.context import DashboardContext
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
    with_headers,
)
from basir.errors import BasirError
from basir.i18n import _
from basir.monitoring.alert_rules import MATCHABLE, STATES, message
from basir.spec.units import parse_duration

router = APIRouter(include_in_schema=False)

AlertId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,200}$")]
PER_STATE = 100
MAX_MATCHER_CHARS = 200
MAX_WHY_CHARS = 500
MAX_SILENCE_S = 30 * 86400.0
DURATIONS = ("30m", "1h", "2h", "1d", "7d")


def silence_form(form: Mapping[str, Any]) -> tuple[dict[str, str], float, str, dict[str, str]]:
    """Matchers, seconds and reason of a posted silence form, and errors by field.

    At least one matcher; each at most `MAX_MATCHER_CHARS`; a duration from 1 s to 30 d;
    a reason of 1 to `MAX_WHY_CHARS` characters.
    """
    errors: dict[str, str] = {}
    matchers: dict[str, str] = {}
    for name in MATCHABLE:
        value = str(form.get(name) or "").strip()
        if len(value) > MAX_MATCHER_CHARS:
            errors[name] = _("at most {n} characters", n=MAX_MATCHER_CHARS)
        elif value:
            matchers[name] = value
    if not matchers and not errors:
        errors["rule"] = _("give at least one of rule, workflow, run id or severity")
    seconds = 0.0
    try:
        seconds = parse_duration(str(form.get("for") or ""))
    except ValueError:
        seconds = -1.0
    if not 1.0 <= seconds <= MAX_SILENCE_S:
        errors["for"] = _("a duration from 1s to 30d, such as 2h")
    why = str(form.get("why") or "").strip()
    if not why or len(why) > MAX_WHY_CHARS:
        errors["why"] = _("say why, in 1 to {n} characters", n=MAX_WHY_CHARS)
    return matchers, seconds, why, errors


async def _values(ctx: DashboardContext) -> dict[str, Any]:
    groups = []
    for state in STATES:
        found = await ctx.store.alert_list(state=state, limit=PER_STATE)
        groups.append((state, [(alert, message(alert)) for alert in found]))
    silences = await ctx.alerts.silences() if ctx.alerts is not None else []
    return {"groups": groups, "silences": silences, "durations": DURATIONS}


async def _page(
    request: Request,
    session: Session,
    *,
    form: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    ctx = dashboard_of(request)
    prefill = form if form is not None else request.query_params
    values = {
        "since": await ctx.store.last_event_id(),
        **await _values(ctx),
        "form": {k: str(prefill.get(k) or "") for k in (*MATCHABLE, "for", "why")},
        "errors": errors or {},
        "alerting": ctx.alerts is not None,
    }
    live = form is None and request.query_params.get("part") == "live"
    template = "alerts_live.html" if live else "alerts.html"
    return render(request, template, values, session=session, status_code=status)


@router.get("/alerts")
async def alerts_page(request: Request, session: SessionDep) -> Response:
    """Firing and resolved alerts, the silences in force, and (to operators) the forms.

    Query fields prefill the silence form (the "silence similar" link of an alert);
    `?part=live` is the fragment (alerts and silences) the page refreshes when runs change.
    """
    return await _page(request, session)


async def _allowed(request: Request, session: Session) -> tuple[Any, Response | None]:
    form = await request.form()
    if not csrf_ok(session, form.get("csrf")):
        return form, csrf_page(request, session)
    if not can_operate(session):
        return form, forbidden_page(request, session)
    if dashboard_of(request).alerts is None:
        return form, error_page(request, session, _("alerting is not running"), 503)
    return form, None


@router.post("/alerts/silences")
async def create_silence(request: Request, session: SessionDep) -> Response:
    """Silence matching alerts for a while; errors are shown beside the fields."""
    form, refused = await _allowed(request, session)
    if refused is not None:
        return refused
    matchers, seconds, why, errors = silence_form(form)
    if errors:
        return await _page(request, session, form=form, errors=errors, status=422)
    alerts = dashboard_of(request).alerts
    assert alerts is not None  # checked by _allowed
    await alerts.silence(matchers, time.time() + seconds, session.principal.user, why)
    return with_headers(RedirectResponse("/alerts", status_code=303))


@router.post("/alerts/{alert_id}/ack")
async def acknowledge(request: Request, session: SessionDep, alert_id: AlertId) -> Response:
    """Record that the user has seen the alert (it keeps firing until resolved)."""
    _form, refused = await _allowed(request, session)
    if refused is not None:
        return refused
    alerts = dashboard_of(request).alerts
    assert alerts is not None  # checked by _allowed
    try:
        await alerts.acknowledge(alert_id, session.principal.user)
    except BasirError as error:
        status = {"not_found": 404}.get(error.kind, 422)
        return error_page(request, session, error.message, status)
    return with_headers(RedirectResponse("/alerts", status_code=303))
