"""`/api/v1/runs`: start, list, show, and control runs (pause, resume, cancel, retry, add tasks)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from basir.api import views
from basir.api.deps import ApiContext, Operator, Reader, dumps, json_response, raw_json
from basir.api.problems import problem_responses
from basir.api.query import query_model
from basir.api.routes.workflows import WorkflowName, version_not_found
from basir.api.routes.workflows import workflow_not_found as _workflow_not_found
from basir.api.schemas import RunPage, RunPatch, RunQuery, RunStart, RunView
from basir.engine.errors import run_not_found
from basir.errors import BasirError
from basir.i18n import _, current_locale, ngettext
from basir.spec.patch import schema_problems

router = APIRouter(prefix="/api/v1", tags=["runs"], responses=problem_responses(401, 403))

RUN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
RunId = Annotated[str, Path(pattern=RUN_ID_PATTERN)]


@router.post(
    "/workflows/{name}/runs",
    status_code=201,
    response_model=RunView,
    responses={
        202: {"description": "with `run_at`: a one-off schedule that starts the run then"},
        **problem_responses(404, 409, 413, 422),
    },
    summary="Start a run of a workflow (latest version unless `version`), now or at `run_at`",
)
async def start_run(name: WorkflowName, body: RunStart, caller: Operator) -> Response:
    """Create a run pinned to a workflow version and start it."""
    workflow = await caller.ctx.store.get_workflow(name, body.version)
    if workflow is None:
        if body.version is not None and await caller.ctx.store.get_workflow(name) is not None:
            raise version_not_found(name, body.version)
        raise _workflow_not_found(name)
    if body.run_at is not None:
        return await _run_later(workflow, body, caller.ctx.store, caller.user)
    run = await caller.ctx.engine.submit(
        workflow,
        params=body.params,
        priority=body.priority,
        deadline_s=body.deadline,
        trigger="api",
        created_by=caller.user,
    )
    tasks = await caller.ctx.store.get_tasks(run.id)
    return json_response(
        views.run_view(run, tasks), 201, headers={"Location": f"/api/v1/runs/{run.id}"}
    )


async def _run_later(workflow: Any, body: RunStart, store: Any, user: str | None) -> Response:
    """A one-off delayed run (`run_at`): checked now, started by the schedule clock then."""
    from datetime import UTC

    from basir.coordinator.schedule_controls import add_run_at, schedule_view
    from basir.engine.params import resolve_params
    from basir.spec.models import WorkflowSpec

    assert body.run_at is not None
    moment = body.run_at if body.run_at.tzinfo else body.run_at.replace(tzinfo=UTC)
    resolve_params(WorkflowSpec.model_validate(workflow.spec), body.params)  # fail fast
    choices = {"params": body.params, "priority": body.priority, "deadline": body.deadline}
    record = await add_run_at(store, workflow, moment.timestamp(), choices, user)
    view = {**schedule_view(record), "version": workflow.version}
    return json_response(view, 202, headers={"Location": "/api/v1/schedules"})


_parse_run_query, _RUN_QUERY_DOC = query_model(RunQuery)


@router.get(
    "/runs",
    response_model=RunPage,
    responses=problem_responses(400, 422),
    openapi_extra=_RUN_QUERY_DOC,
    summary="Runs, newest first, filtered and paged",
)
async def list_runs(
    request: Request, caller: Reader, query: Annotated[RunQuery, Depends(_parse_run_query)]
) -> Response:
    """A page of runs; pass `next` back as `cursor` for the following page."""
    key = (query.status, query.workflow, query.limit, query.cursor)
    # A query string that passed validation, and its key: `hot_reads` answers it from the
    # cache next time without routing and validating again.
    caller.ctx.runs_keys.learn(request.scope.get("query_string", b""), key)

    async def load() -> bytes:
        try:
            page = await caller.ctx.store.list_runs(
                status=query.status,
                workflow=query.workflow,
                limit=query.limit,
                cursor=query.cursor,
            )
        except ValueError as error:
            raise BasirError(
                "request.invalid_cursor",
                _("this cursor is not valid"),
                details=[{"field": "query.cursor", "message": _("not a cursor of this listing")}],
            ) from error
        return dumps({"items": [views.run_summary(r) for r in page.items], "next": page.next})

    # Errors are shown in the request's language: a page is cached per language.
    return raw_json(await caller.ctx.runs_cache.get((key, current_locale()), load))


@router.get(
    "/runs/{run_id}",
    response_model=RunView,
    responses=problem_responses(404, 422),
    summary="A run with its tasks (the `basir run --json` shape plus timestamps)",
)
async def show_run(run_id: RunId, caller: Reader) -> Response:
    """One run and its tasks."""
    return await _view(caller.ctx, run_id)


async def _view(ctx: ApiContext, run_id: str) -> Response:
    run = await ctx.store.get_run(run_id)
    if run is None:
        raise run_not_found(run_id)
    view = views.run_view(run, await ctx.store.get_tasks(run_id))
    for task_id, usage in ctx.engine.usage.live(run_id).items():  # running tasks, sampled now
        if task_id in view["tasks"]:
            view["tasks"][task_id]["usage"] = usage
    return json_response(view)


_CONTROL_RESPONSES = problem_responses(404, 409, 422)


@router.post(
    "/runs/{run_id}/pause",
    summary="Pause: no new task starts",
    response_model=RunView,
    responses=_CONTROL_RESPONSES,
)
async def pause_run(run_id: RunId, caller: Operator) -> Response:
    """No new task of the run starts; running ones finish."""
    await caller.ctx.engine.pause_run(run_id, by=caller.user)
    return await _view(caller.ctx, run_id)


@router.post(
    "/runs/{run_id}/resume",
    summary="Resume a paused run",
    response_model=RunView,
    responses=_CONTROL_RESPONSES,
)
async def resume_run(run_id: RunId, caller: Operator) -> Response:
    """Undo a pause."""
    await caller.ctx.engine.resume_run(run_id, by=caller.user)
    return await _view(caller.ctx, run_id)


@router.post(
    "/runs/{run_id}/cancel",
    summary="Cancel a run; running tasks are killed",
    response_model=RunView,
    responses=_CONTROL_RESPONSES,
)
async def cancel_run(run_id: RunId, caller: Operator) -> Response:
    """Cancel the run; running tasks' process groups are killed."""
    await caller.ctx.engine.cancel_run(run_id, by=caller.user)
    return await _view(caller.ctx, run_id)


@router.post(
    "/runs/{run_id}/retry",
    summary="Re-run a finished run's failed tasks in place",
    response_model=RunView,
    responses=_CONTROL_RESPONSES,
)
async def retry_run(run_id: RunId, caller: Operator) -> Response:
    """Failed and cancelled tasks of a finished run run again; succeeded ones are kept."""
    await caller.ctx.engine.retry_run(run_id, by=caller.user)
    return await _view(caller.ctx, run_id)


def validate_tasks(tasks: list[dict[str, Any]]) -> None:
    """Check each added task against the spec's task schema; 422 with field paths if not."""
    _, problems = schema_problems(tasks)
    if problems:
        raise BasirError(
            "run.invalid_tasks",
            ngettext(
                "{count} problem in the added tasks",
                "{count} problems in the added tasks",
                len(problems),
            ),
            details=[{**item, "field": f"body.{item['field']}"} for item in problems],
        )


@router.patch(
    "/runs/{run_id}",
    summary="Add tasks to a live run",
    response_model=RunView,
    responses=problem_responses(404, 409, 413, 422),
)
async def patch_run(run_id: RunId, body: RunPatch, caller: Operator) -> Response:
    """Add tasks to a running run: still acyclic, `needs` only on existing tasks."""
    validate_tasks(body.tasks)
    await caller.ctx.engine.add_tasks(run_id, body.tasks, by=caller.user)
    return await _view(caller.ctx, run_id)
