"""`create_app`: the FastAPI application of one engine.  No globals: make as many as you like.

The app does not start or stop the engine — whoever owns the process does (`basir server`,
tests).  Its lifespan only ends the endless streams and releases the app's subscriptions.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi

from basir.api import problems
from basir.api.audit_middleware import AuditMiddleware
from basir.api.cache import LIST_CACHE_TTL_S, ListCache, changes_runs
from basir.api.deps import ApiContext
from basir.api.hot_reads import HotReads
from basir.api.middleware import BodyLimitMiddleware, LocaleMiddleware
from basir.api.query import refuse_unknown_query
from basir.api.routes import (
    alert_rules,
    alerts,
    audit,
    dashboards,
    decisions,
    events,
    export,
    health,
    log_search,
    monitoring,
    queues,
    report_schedules,
    resource_policies,
    resources,
    runs,
    schedules,
    tasks,
    workflows,
)
from basir.config import Settings
from basir.coordinator.decisions import Decisions
from basir.dashboard import DashboardContext
from basir.dashboard import mount as mount_dashboard
from basir.engine.runtime import Engine
from basir.monitoring.alert_manager import AlertManager
from basir.monitoring.event_log import EventLogger
from basir.monitoring.health_probe import gather
from basir.monitoring.history import HistorySampler
from basir.monitoring.http import HttpMetricsMiddleware
from basir.monitoring.log_retention import LogSweeper
from basir.monitoring.metrics import Metrics
from basir.monitoring.notify import Notifier
from basir.monitoring.overdue import OverdueWatch
from basir.monitoring.report_schedules import ReportScheduler
from basir.monitoring.rule_setup import make_rule_runner
from basir.monitoring.snapshot import engine_state
from basir.security.audit_recorder import AuditRecorder
from basir.security.auth import Authenticator

API_VERSION = "1"
DESCRIPTION = """\
Basir L3 runs workflows of tasks durably and shows what happens.

Every `/api/v1` route needs `Authorization: Bearer TOKEN`.  Errors are
`application/problem+json` (RFC 9457) with a stable `code`, in the language of
`Accept-Language` (en, ar).
"""


def create_app(
    engine: Engine,
    settings: Settings,
    *,
    metrics: Metrics | None = None,
    authenticator: Authenticator | None = None,
    list_cache_ttl_s: float = LIST_CACHE_TTL_S,
) -> FastAPI:
    """Build the REST API of `engine`: routes, problem+json errors, limits, auth, metrics."""
    metrics = metrics or _engine_metrics(engine) or Metrics()
    ctx = ApiContext(
        engine=engine,
        settings=settings,
        auth=authenticator or Authenticator(engine.store),
        metrics=metrics,
        runs_cache=ListCache(engine.bus, ttl_s=list_cache_ttl_s, changes=changes_runs),
        decisions=Decisions(engine.store, engine),
        alerts=AlertManager(
            engine.store,
            engine.bus,
            notifier=Notifier(engine.store, engine.bus),
            health_probe=lambda: gather(engine, settings.max_parallel, settings.home),
            overdue=OverdueWatch(engine.store),
        ),
        audit=AuditRecorder(engine.store),
        pages_cache=ListCache(engine.bus, ttl_s=list_cache_ttl_s, changes=changes_runs),
    )
    if not metrics.has_state_provider:
        metrics.bind_state(engine_state(engine))
    ctx.alerts.rule_runner = make_rule_runner(
        engine.store, engine.bus, ctx.alerts, metrics, settings
    )
    rules = ctx.alerts.rule_runner
    assert ctx.alerts.notifier is not None
    reports = ctx.report_schedules = ReportScheduler(engine.store, ctx.alerts.notifier)

    event_log = EventLogger(engine.bus)  # lifecycle lines with run/task/attempt ids
    sampler = HistorySampler(metrics, engine.store, interval_s=settings.metrics_interval_s)
    sweeper = LogSweeper(
        engine.store,
        settings.logs_dir,
        keep_s=settings.task_log_retention_days * 86400,
        max_bytes=settings.task_logs_max_bytes,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx.audit.start()  # the audit log's one writer
        event_log.start()
        sampler.start()  # the built-in metric history, while the app serves
        sweeper.start()  # task log retention
        await ctx.alerts.start()  # the built-in alert rules
        await rules.start()  # the user's
        reports.start()  # scheduled reports
        yield
        await reports.stop()
        await rules.stop()
        await ctx.alerts.stop()
        await sampler.stop()
        await sweeper.stop()
        await event_log.stop()
        ctx.shutdown.set()
        ctx.runs_cache.close()
        if ctx.pages_cache is not None:
            ctx.pages_cache.close()
        await ctx.audit.stop()  # writes what is still queued

    app = FastAPI(
        title="Basir L3",
        version=API_VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        telemetry=fastapi_telemetry(settings.otel_traces, os.environ),  # type: ignore[arg-type]
    )
    app.state.basir = ctx
    problems.install(app)
    # The most requested routes first: matching walks the routers in order.
    modules = (runs, events, tasks, workflows, decisions, schedules, resources, health)
    faces = (
        monitoring,
        report_schedules,
        alert_rules,
        alerts,
        audit,
        export,
        log_search,
        dashboards,
    )
    for module in (*modules, queues, resource_policies, *faces):
        app.include_router(module.router, dependencies=[Depends(refuse_unknown_query)])
    # The web UI at `/`, after the API so `/api/v1` routes match first; same shutdown signal.
    dashboard = DashboardContext(
        engine,
        settings,
        shutdown=ctx.shutdown,
        alerts=ctx.alerts,
        auth=ctx.auth,
        metrics=metrics,
        pages_cache=ctx.pages_cache,
    )
    mount_dashboard(app, dashboard)
    # Added innermost first: the locale is set before the body limit may answer 413; the
    # hot reads are answered inside the locale and metrics middleware, like any route.
    app.add_middleware(HotReads, api=ctx, dashboard=dashboard)
    app.add_middleware(AuditMiddleware, recorder=ctx.audit)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(LocaleMiddleware)
    app.add_middleware(HttpMetricsMiddleware, metrics=metrics)
    _document_problems(app)
    return app


def fastapi_telemetry(otel_traces: bool, environ: Mapping[str, str]) -> dict[str, bool] | None:
    """FastAPI's own request telemetry: as FastAPI defaults when OpenTelemetry is wanted
    (`BASIR_OTEL_TRACES`, or FastAPI's `FASTAPI_OTEL_AUTO_CONFIGURE`), else off.  Left on,
    it asks OpenTelemetry for the global providers on every request (7 % of a cached
    runs page's time) only to find them unconfigured."""
    if otel_traces or environ.get("FASTAPI_OTEL_AUTO_CONFIGURE", "").lower() == "true":
        return None
    return {"tracing": False, "metrics": False, "logs": False}


def context_of(app: FastAPI) -> ApiContext:
    """The context an app serves from (the server sets its `shutdown` event on SIGTERM)."""
    ctx: ApiContext = app.state.basir
    return ctx


def _engine_metrics(engine: Engine) -> Metrics | None:
    found = getattr(engine, "metrics", None)
    return found if isinstance(found, Metrics) else None


def _document_problems(app: FastAPI) -> None:
    """Add the `Problem` schema to the OpenAPI components the error responses refer to."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(problems.problem_schemas())
            # FastAPI's own 422 model is never sent: ours is problem+json.
            for name in ("HTTPValidationError", "ValidationError"):
                components.pop(name, None)
            _add_body_limits(schema)
            _add_security(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _add_body_limits(schema: dict[str, Any]) -> None:
    """Every operation taking a body may answer 400 (too deep) and 413 (too large)."""
    limits = problems.problem_responses(400, 413)
    for operations in schema.get("paths", {}).values():
        for method, operation in operations.items():
            if method in ("post", "patch", "put"):
                responses = operation.setdefault("responses", {})
                for status, response in limits.items():
                    responses.setdefault(str(status), response)


def _add_security(schema: dict[str, Any]) -> None:
    """Every `/api/v1` operation needs `Authorization: Bearer TOKEN`."""
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes["HTTPBearer"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "A token from `basir server`'s first start, BASIR_ADMIN_TOKEN or "
        "`basir tokens`",
    }
    for path, operations in schema.get("paths", {}).items():
        if path.startswith("/api/v1/"):
            for operation in operations.values():
                operation["security"] = [{"HTTPBearer": []}]
