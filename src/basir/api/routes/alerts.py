"""`/api/v1/alerts`: alerts (firing, resolved), acknowledgements and silences."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from starlette.responses import Response

from basir.api.deps import Caller, Operator, Reader, allow, json_response
from basir.api.problems import problem_responses
from basir.engine.report import iso
from basir.errors import BasirError
from basir.i18n import _
from basir.monitoring.alert_rules import MATCHABLE, Silence
from basir.monitoring.alert_views import alert_view
from basir.monitoring.notify import APPRISE, WEBHOOK, Route
from basir.monitoring.notify_apprise import shown_url, supported
from basir.security.auth import Permission
from basir.spec.units import parse_duration
from basir.store.records import AlertRecord

router = APIRouter(prefix="/api/v1", tags=["alerts"], responses=problem_responses(401, 403))

AlertId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,200}$")]
MAX_LIST = 500


class AlertView(BaseModel):
    """One alert as the API shows it (message in the caller's language)."""

    id: str
    rule: str
    state: str
    severity: str
    workflow: str | None
    run_id: str | None
    message: str
    fired_at: str
    resolved_at: str | None
    acknowledged_by: str | None
    acknowledged_at: str | None
    silenced_by: str | None


class AlertList(BaseModel):
    """Alerts, most recently fired first."""

    items: list[AlertView]


class SilenceView(BaseModel):
    """A silence: which alerts, until when, who and why."""

    id: str
    matchers: dict[str, str]
    until: str
    by: str
    why: str
    created_at: str


class SilenceList(BaseModel):
    """Silences in force, newest first."""

    items: list[SilenceView]


class SilenceCreate(BaseModel):
    """Silence the alerts whose fields equal every given matcher, for a while."""

    model_config = ConfigDict(extra="forbid")

    matchers: dict[str, str] = Field(
        min_length=1, max_length=4, description="rule, workflow, run_id and/or severity"
    )
    duration: str = Field("2h", alias="for", description="how long: 30m, 2h, 1d")
    why: str = Field(min_length=1, max_length=500)


def silence_view(silence: Silence) -> dict[str, Any]:
    """The public shape of a silence."""
    return {
        "id": silence.id,
        "matchers": silence.matchers,
        "until": iso(silence.until),
        "by": silence.by,
        "why": silence.why,
        "created_at": iso(silence.created_at),
    }


@router.get(
    "/alerts",
    response_model=AlertList,
    responses=problem_responses(422),
    summary="Alerts: pending, then most recently fired first (firing, resolved)",
)
async def list_alerts(
    caller: Reader,
    state: Annotated[Literal["firing", "pending", "resolved"] | None, Query()] = None,
    workflow: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 100,
) -> Response:
    """Alerts of the built-in and user rules, filtered by state and workflow.

    Pending alerts (a user rule's condition holds, not yet for its `for`) come first.
    """
    found: list[AlertRecord] = []
    runner = caller.ctx.alerts.rule_runner
    if state in (None, "pending") and runner is not None:
        found = [a for a in runner.pending() if workflow is None or a.workflow == workflow]
    if state != "pending":
        found += await caller.ctx.store.alert_list(state=state, workflow=workflow, limit=limit)
    return json_response({"items": [alert_view(a) for a in found[:limit]]})


@router.post(
    "/alerts/{alert_id}/ack",
    response_model=AlertView,
    responses=problem_responses(404, 422),
    summary="Acknowledge an alert (who and when are recorded)",
)
async def acknowledge(alert_id: AlertId, caller: Operator) -> Response:
    """Record that the caller has seen the alert; it stays firing until resolved."""
    alert = await caller.ctx.alerts.acknowledge(alert_id, caller.user)
    return json_response(alert_view(alert))


@router.get(
    "/alerts/silences", response_model=SilenceList, summary="Silences in force, newest first"
)
async def list_silences(caller: Reader) -> Response:
    """Silences whose `until` has not passed."""
    return json_response({"items": [silence_view(s) for s in await caller.ctx.alerts.silences()]})


@router.post(
    "/alerts/silences",
    status_code=201,
    response_model=SilenceView,
    responses=problem_responses(422),
    summary="Silence matching alerts for a while (no alert.firing event while silenced)",
)
async def create_silence(body: SilenceCreate, caller: Operator) -> Response:
    """Silence alerts matching every matcher for `for` (default 2h)."""
    unknown = sorted(set(body.matchers) - set(MATCHABLE))
    if unknown:
        raise BasirError(
            "request.invalid",
            _("this silence is not valid"),
            details=[
                {
                    "field": f"body.matchers.{name}",
                    "message": _("matchers may name only: {names}", names=", ".join(MATCHABLE)),
                }
                for name in unknown
            ],
        )
    try:
        seconds = parse_duration(body.duration)
    except ValueError as error:
        raise BasirError(
            "request.invalid",
            _("this silence is not valid"),
            details=[{"field": "body.for", "message": str(error)}],
        ) from error
    silence = await caller.ctx.alerts.silence(
        body.matchers, time.time() + seconds, caller.user, body.why
    )
    return json_response(silence_view(silence), 201)


Admin = Annotated[Caller, Depends(allow(Permission.ADMIN))]


class RouteView(BaseModel):
    """A notification route (its secret never shown; an apprise URL as scheme and host)."""

    name: str
    kind: str
    url: str
    lang: str
    matchers: dict[str, str]
    max_per_minute: int


class RouteList(BaseModel):
    """Notification routes, by name."""

    items: list[RouteView]


class RoutePut(BaseModel):
    """A route for alert notifications: a signed webhook, or an apprise URL (email, chat)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")
    kind: Literal["webhook", "apprise"] = "webhook"
    url: str = Field(
        pattern=r"^[a-z][a-z0-9+.-]{1,20}://",
        max_length=2000,
        description="webhook: http(s) URL; apprise: mailto://, slack://, tgram://, json:// …",
    )
    secret: str | None = Field(
        None, min_length=16, max_length=200, description="HMAC-SHA256 key (webhooks only)"
    )
    lang: Literal["en", "ar"] = "en"
    matchers: dict[str, str] = Field(default_factory=dict, max_length=4)
    max_per_minute: StrictInt = Field(30, ge=1, le=600)


async def _check_target(body: RoutePut) -> None:
    """A webhook needs an http(s) URL and a secret; an apprise URL must be one apprise knows."""
    problems: list[dict[str, str]] = []
    if body.kind == WEBHOOK:
        if not body.url.startswith(("http://", "https://")):
            problems.append({"field": "body.url", "message": _("a webhook URL is http(s)://")})
        if body.secret is None:
            problems.append({"field": "body.secret", "message": _("a webhook needs a secret")})
    else:
        if body.secret is not None:
            problems.append(
                {"field": "body.secret", "message": _("only webhooks are signed with a secret")}
            )
        if not await asyncio.to_thread(supported, body.url):  # apprise loads its plugins
            problems.append(
                {"field": "body.url", "message": _("apprise does not support this URL")}
            )
    if problems:
        raise BasirError("request.invalid", _("this route is not valid"), details=problems)


def route_view(route: Route) -> dict[str, Any]:
    """The public shape of a route: everything but the secret."""
    return {
        "name": route.name,
        "kind": route.kind,
        "url": shown_url(route.url) if route.kind == APPRISE else route.url,
        "lang": route.lang,
        "matchers": route.matchers,
        "max_per_minute": route.max_per_minute,
    }


@router.get(
    "/notifications/routes",
    response_model=RouteList,
    summary="Routes of alert notifications (secrets hidden)",
)
async def list_routes(caller: Reader) -> Response:
    """Every route, by name."""
    notifier = caller.ctx.alerts.notifier
    routes = await notifier.routes() if notifier is not None else []
    return json_response({"items": [route_view(r) for r in routes]})


@router.post(
    "/notifications/routes",
    status_code=201,
    response_model=RouteView,
    responses=problem_responses(422),
    summary="Create or replace a route: signed webhook or apprise URL (email, chat)",
)
async def put_route(body: RoutePut, caller: Admin) -> Response:
    """Alerts matching `matchers` are POSTed to `url`, signed with `secret`, in `lang`."""
    unknown = sorted(set(body.matchers) - set(MATCHABLE))
    if unknown:
        raise BasirError(
            "request.invalid",
            _("this route is not valid"),
            details=[
                {
                    "field": f"body.matchers.{name}",
                    "message": _("matchers may name only: {names}", names=", ".join(MATCHABLE)),
                }
                for name in unknown
            ],
        )
    await _check_target(body)
    route = Route(
        body.name,
        body.url,
        body.secret or "",
        body.lang,
        dict(body.matchers),
        body.max_per_minute,
        body.kind,
    )
    notifier = caller.ctx.alerts.notifier
    assert notifier is not None  # create_app always gives the alerting a notifier
    await notifier.put_route(route)
    return json_response(route_view(route), 201)
