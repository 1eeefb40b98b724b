"""Workflows: the list, one workflow with its spec, and the form that starts a run."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, Path, Request
from starlette.responses import RedirectResponse, Response

from basir.dashboard import forms, spec_view
from basir.dashboard.context import DashboardContext
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
from basir.spec.models import NAME_PATTERN
from basir.store.records import RunRecord, ScheduleRecord, WorkflowVersion

router = APIRouter(include_in_schema=False)
SPEC_FORMATS = ("yaml", "json")
MAX_WORKFLOWS_LISTED = 500
SUCCESS_OVER_RUNS = 20  # the success rate of the list is over each workflow's newest runs
FINISHED = ("succeeded", "failed", "cancelled")


def _not_found(request: Request, session: Any, name: str) -> Response:
    return error_page(request, session, _("no workflow named {name}", name=name), 404)


async def _recent_runs(ctx: DashboardContext, names: list[str]) -> dict[str, list[RunRecord]]:
    """The newest runs of each workflow, newest first (one small indexed query each)."""
    pages = await asyncio.gather(
        *(ctx.store.list_runs(workflow=n, limit=SUCCESS_OVER_RUNS) for n in names)
    )
    return {n: list(p.items) for n, p in zip(names, pages, strict=True) if p.items}


def success_rate(runs: list[RunRecord]) -> float | None:
    """The share of the finished runs among `runs` that succeeded (None: none finished)."""
    finished = [r for r in runs if str(r.status) in FINISHED]
    if not finished:
        return None
    return sum(1 for r in finished if str(r.status) == "succeeded") / len(finished)


def next_fires(schedules: list[ScheduleRecord]) -> dict[str, ScheduleRecord]:
    """Each workflow's schedule that fires next (paused ones and ended ones left out)."""
    soonest: dict[str, ScheduleRecord] = {}
    for entry in schedules:
        if entry.paused or entry.due_at is None:
            continue
        known = soonest.get(entry.workflow)
        if known is None or (known.due_at is not None and entry.due_at < known.due_at):
            soonest[entry.workflow] = entry
    return soonest


@router.get("/workflows")
async def workflows_page(request: Request, session: SessionDep) -> Response:
    """Every workflow's latest version, last run, success rate and next scheduled fire."""
    ctx = dashboard_of(request)
    workflows = (await ctx.store.list_workflows())[:MAX_WORKFLOWS_LISTED]
    recent = await _recent_runs(ctx, [w.name for w in workflows])
    values = {
        "workflows": workflows,
        "last": {name: runs[0] for name, runs in recent.items()},
        "success": {name: success_rate(runs) for name, runs in recent.items()},
        "success_over": SUCCESS_OVER_RUNS,
        "next_fire": next_fires(await ctx.store.list_schedules()),
    }
    return render(request, "workflows.html", values, session=session)


def spec_text(workflow: WorkflowVersion, fmt: str) -> str:
    """The stored spec as YAML (block style, Unicode kept) or JSON."""
    if fmt == "json":
        return json.dumps(workflow.spec, ensure_ascii=False, indent=2)
    import yaml

    dumped: str = yaml.safe_dump(
        workflow.spec, allow_unicode=True, sort_keys=False, default_flow_style=False
    )
    return dumped


async def _workflow_page(
    request: Request,
    session: Any,
    workflow: WorkflowVersion,
    *,
    posted: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    general: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    ctx = dashboard_of(request)
    fmt = request.query_params.get("format", "yaml")
    fmt = fmt if fmt in SPEC_FORMATS else "yaml"
    declared = workflow.spec.get("params") or {}
    recent = await ctx.store.list_runs(workflow=workflow.name, limit=10)
    versions = await ctx.store.list_workflow_versions(workflow.name)
    values = {
        "workflow": workflow,
        "fmt": fmt,
        "spec_html": spec_view.highlighted(spec_text(workflow, fmt), fmt),
        **await _diff_values(request, workflow, [v.version for v in versions]),
        "fields": forms.param_fields(declared, posted, errors),
        "general_errors": general or [],
        "runs": recent.items,
        "versions": versions,
    }
    return render(request, "workflow.html", values, session=session, status_code=status_code)


def _version_param(request: Request, key: str, known: list[int]) -> int | None:
    text = request.query_params.get(key, "")
    return int(text) if text.isdigit() and len(text) <= 9 and int(text) in known else None


async def _diff_values(
    request: Request, workflow: WorkflowVersion, known: list[int]
) -> dict[str, Any]:
    """The version diff: `?from=&to=` (default: the previous version to the latest)."""
    if len(known) < 2:
        return {"diff": None, "diff_from": None, "diff_to": None, "known": known}
    ordered = sorted(known)
    new = _version_param(request, "to", known) or ordered[-1]
    old = _version_param(request, "from", known)
    if old is None:
        older = [v for v in ordered if v < new]
        old = older[-1] if older else ordered[0]
    store = dashboard_of(request).store
    before, after = await asyncio.gather(
        store.get_workflow(workflow.name, old), store.get_workflow(workflow.name, new)
    )
    lines: list[spec_view.DiffLine] = []
    cut = False
    if before is not None and after is not None:
        lines, cut = spec_view.diff(
            spec_text(before, "yaml"), spec_text(after, "yaml"), f"v{old}", f"v{new}"
        )
    return {"diff": lines, "diff_cut": cut, "diff_from": old, "diff_to": new, "known": ordered}


@router.get("/workflows/{name}")
async def workflow_page(
    request: Request, session: SessionDep, name: str = Path(pattern=NAME_PATTERN, max_length=63)
) -> Response:
    """One workflow: description, spec (YAML or JSON), versions, recent runs, the run form."""
    workflow = await dashboard_of(request).store.get_workflow(name)
    if workflow is None:
        return _not_found(request, session, name)
    return await _workflow_page(request, session, workflow)


@router.post("/workflows/{name}/runs")
async def start_run(
    request: Request, session: SessionDep, name: str = Path(pattern=NAME_PATTERN, max_length=63)
) -> Response:
    """Start a run from the form; invalid params come back beside their fields (422)."""
    form = await request.form()
    if not csrf_ok(session, form.get("csrf")):
        return csrf_page(request, session)
    if not can_operate(session):
        return forbidden_page(request, session)
    ctx = dashboard_of(request)
    workflow = await ctx.store.get_workflow(name)
    if workflow is None:
        return _not_found(request, session, name)
    declared = workflow.spec.get("params") or {}
    posted = forms.posted_params(form, declared)
    try:
        run = await ctx.engine.submit(
            workflow,
            params=dict(posted),
            trigger="dashboard",
            created_by=session.principal.user,
            params_from_text=True,
        )
    except BasirError as error:
        errors, general = forms.errors_by_param(error.details)
        if not errors and not general:
            general = [error.message]
        return await _workflow_page(
            request,
            session,
            workflow,
            posted=posted,
            errors=errors,
            general=general,
            status_code=422,
        )
    return with_headers(RedirectResponse(f"/runs/{run.id}", status_code=303))
