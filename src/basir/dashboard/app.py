"""`mount`: bind the dashboard's routes to an app (called by `basir.api.app.create_app`)."""

from __future__ import annotations

from fastapi import FastAPI

from basir.dashboard import (
    assets,
    live,
    pages_admin,
    pages_alerts,
    pages_audit,
    pages_auth,
    pages_boards,
    pages_logs,
    pages_overview,
    pages_reports,
    pages_resources,
    pages_runs,
    pages_scheduler,
    pages_workflows,
)
from basir.dashboard.context import DashboardContext
from basir.dashboard.web import LoginRequiredError, login_required_response


def mount(app: FastAPI, context: DashboardContext) -> None:
    """Serve the dashboard at `/` of `app` (its routes are left out of the OpenAPI)."""
    if context.assets_dir is None:
        context.assets_dir = assets.find_node_modules()
    app.state.dashboard = context
    app.add_exception_handler(LoginRequiredError, login_required_response)
    app.include_router(assets.router(context.assets_dir))
    pages = (
        pages_scheduler,
        pages_resources,
        pages_alerts,
        pages_reports,
        pages_audit,
        pages_admin,
        pages_boards,
        pages_logs,
    )
    for module in (pages_auth, pages_overview, pages_workflows, pages_runs, *pages, live):
        app.include_router(module.router)
