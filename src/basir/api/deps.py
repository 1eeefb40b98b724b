"""What routes depend on: the app's context object and the authenticated principal."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.responses import Response

from basir.api.cache import KnownQueries, ListCache
from basir.config import Settings
from basir.coordinator.decisions import Decisions
from basir.engine.runtime import Engine
from basir.monitoring.alert_manager import AlertManager
from basir.monitoring.metrics import Metrics
from basir.monitoring.report_schedules import ReportScheduler
from basir.security.audit_recorder import AuditRecorder, mark_caller
from basir.security.auth import Authenticator, Permission, require
from basir.security.tokens import Principal
from basir.store.base import Store


@dataclass(slots=True)
class ApiContext:
    """Everything one app instance serves from; built by `create_app`, kept on `app.state`."""

    engine: Engine
    settings: Settings
    auth: Authenticator
    metrics: Metrics
    runs_cache: ListCache[bytes]
    decisions: Decisions
    alerts: AlertManager
    audit: AuditRecorder
    # Set when the server begins shutting down: endless streams (SSE, log follow) end.
    shutdown: asyncio.Event = field(default_factory=asyncio.Event)
    # Scheduled performance reports (set by `create_app`).
    report_schedules: ReportScheduler | None = None
    # The dashboard's cache of rendered runs pages (emptied when a workflow is applied).
    pages_cache: ListCache[Any] | None = None
    # Validated query strings of `GET /runs` and their cache keys (`basir.api.hot_reads`).
    runs_keys: KnownQueries = field(default_factory=KnownQueries)

    @property
    def store(self) -> Store:
        """The engine's store."""
        return self.engine.store


async def get_ctx(request: Request) -> ApiContext:
    """The app's context (async: a sync dependency would cost a thread hop per request)."""
    ctx: ApiContext = request.app.state.basir
    return ctx


Ctx = Annotated[ApiContext, Depends(get_ctx)]


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated request: who calls, and the app context it calls into."""

    ctx: ApiContext
    principal: Principal

    @property
    def user(self) -> str:
        """The caller's user name (recorded as `by` / `created_by`)."""
        return self.principal.user


def allow(permission: Permission) -> Callable[[Request], Awaitable[Caller]]:
    """A dependency that authenticates the caller and checks one permission (401 / 403).

    It reads the `Authorization` header itself rather than through `HTTPBearer` and nested
    dependencies: each dependency level costs tens of microseconds per request, and the list
    endpoints must serve hundreds of requests per second.  The bearer scheme is documented
    in the OpenAPI by `create_app`.
    """

    async def dependency(request: Request) -> Caller:
        ctx: ApiContext = request.app.state.basir
        principal = await ctx.auth.authenticate(request.headers.get("authorization"))
        mark_caller(request.scope, principal)  # the audit log's actor, refused or not
        require(principal, permission)
        return Caller(ctx, principal)

    return dependency


Reader = Annotated[Caller, Depends(allow(Permission.READ))]
Operator = Annotated[Caller, Depends(allow(Permission.OPERATE))]


def dumps(data: Any) -> bytes:
    """Compact UTF-8 JSON (Arabic stays readable)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def json_response(
    data: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A JSON response from plain data, serialised once with the standard library."""
    return Response(dumps(data), status_code, headers=headers, media_type="application/json")


def raw_json(body: bytes, status_code: int = 200) -> Response:
    """A JSON response from already serialised bytes (cached pages)."""
    return Response(body, status_code, media_type="application/json")
