"""`/api/v1/workflows`: apply a spec (YAML or JSON), list, show, versions."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from pathlib import Path as PathType
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from basir.api import views
from basir.api.deps import ApiContext, Operator, Reader, json_response
from basir.api.problems import problem_responses
from basir.api.schemas import WorkflowApplied, WorkflowDetail, WorkflowList
from basir.errors import BasirError, NotFoundError
from basir.i18n import _, ngettext
from basir.spec.errors import SpecError, format_path
from basir.spec.models import NAME_PATTERN, WorkflowSpec

router = APIRouter(prefix="/api/v1", tags=["workflows"], responses=problem_responses(401, 403))

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
JSON_TYPES = ("application/json",)
WorkflowName = Annotated[str, Path(pattern=NAME_PATTERN, max_length=63)]
VersionNumber = Annotated[int, Path(ge=1, le=2**31 - 1)]

_APPLY_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/yaml": {
                "schema": {"type": "string", "description": "a workflow spec (DESIGN §4)"}
            },
            "application/json": {
                "schema": {"type": "object", "description": "a workflow spec (DESIGN §4)"}
            },
        },
    }
}


def workflow_not_found(name: str) -> NotFoundError:
    """No workflow of this name."""
    return NotFoundError("workflow.not_found", _("no workflow named {name}", name=name))


def version_not_found(name: str, version: int) -> NotFoundError:
    """The workflow exists but not this version."""
    return NotFoundError(
        "workflow.version_not_found",
        _("workflow {name} has no version {version}", name=name, version=version),
    )


def _media_type(request: Request) -> str:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in YAML_TYPES:
        return "application/yaml"
    if content_type in JSON_TYPES or content_type.endswith("+json"):
        return "application/json"
    raise BasirError(
        "request.unsupported_media_type",
        _("send the workflow as application/yaml or application/json"),
        details=[{"field": "header.content-type", "message": _("unsupported media type")}],
    )


def _spec_error(error: SpecError) -> BasirError:
    details = [
        {
            "field": format_path(issue.path),
            "message": issue.message,
            "code": str(issue.code),
            "line": issue.line,
            "col": issue.col,
        }
        for issue in error.issues
    ]
    message = ngettext(
        "the workflow has {count} problem", "the workflow has {count} problems", len(details)
    )
    return BasirError("spec.invalid", message, details=details)


def _prepare(
    text: str,
    media_type: str,
    template_dirs: list[PathType],
    pools: Mapping[str, float],
    queues: Collection[str],
) -> tuple[WorkflowSpec, dict[str, Any], str]:
    """The validated spec, its stored form and hash (what `apply_workflow` stores); CPU only."""
    from basir.coordinator.workflows import canonical_spec, spec_hash
    from basir.spec.validate import load_workflow

    try:
        spec = load_workflow(
            text,
            "<request>",
            content_type=media_type,
            template_dirs=template_dirs,
            pools=pools,
            queues=queues,
        )
    except SpecError as error:
        raise _spec_error(error) from error
    document = canonical_spec(spec)
    return spec, document, spec_hash(document)


def _refuse_over_quota(ctx: ApiContext, spec: WorkflowSpec) -> None:
    """A task that asks for more than its namespace's quota allows at once could never start."""
    from basir.engine.run_fit import spec_quota_problems, unfit_error

    engine = ctx.engine
    quota = engine.flow.admission.governor.quotas.get(spec.namespace)
    problems = spec_quota_problems(spec, quota, engine.renderer.templates)
    if problems:
        raise unfit_error(problems)


@router.post(
    "/workflows",
    status_code=201,
    response_model=WorkflowApplied,
    openapi_extra=_APPLY_BODY,
    responses={
        200: {"model": WorkflowApplied, "description": "unchanged: same as latest"},
        **problem_responses(400, 413, 415, 422),
    },
    summary="Apply a workflow spec: a new version unless unchanged",
)
async def apply(request: Request, caller: Operator) -> Response:
    """Validate a spec and store it as the workflow's next version (201), or 200 if unchanged.

    Parsing, validating and hashing run on a worker thread, never on the event loop: a
    10,000-task spec must not hold up `/healthz` or anyone else's request.
    """
    media_type = _media_type(request)
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BasirError("request.malformed", _("the body is not UTF-8 text")) from error
    settings = caller.ctx.settings
    pools = caller.ctx.engine.pool_settings()  # with capacities changed at run time
    spec, document, digest = await asyncio.to_thread(
        _prepare,
        text,
        media_type,
        settings.template_dirs,
        pools,
        caller.ctx.engine.flow.admission.queues,
    )
    _refuse_over_quota(caller.ctx, spec)
    version, created = await caller.ctx.store.put_workflow(
        spec.name, spec.namespace, document, digest, caller.user
    )
    from basir.coordinator.workflows import register_schedules

    await register_schedules(caller.ctx.store, spec)
    if created and caller.ctx.pages_cache is not None:
        caller.ctx.pages_cache.invalidate()  # the runs page lists workflow names
    body = {"name": version.name, "version": version.version, "created": created}
    headers = {"Location": f"/api/v1/workflows/{version.name}/versions/{version.version}"}
    return json_response(body, 201 if created else 200, headers=headers)


@router.get("/workflows", response_model=WorkflowList, summary="Latest version of every workflow")
async def list_workflows(caller: Reader) -> Response:
    """Every workflow's latest version, by name."""
    workflows = await caller.ctx.store.list_workflows()
    return json_response({"items": [views.workflow_summary(w) for w in workflows]})


@router.get(
    "/workflows/{name}",
    response_model=WorkflowDetail,
    responses=problem_responses(404, 422),
    summary="A workflow's latest version with its spec",
)
async def show(name: WorkflowName, caller: Reader) -> Response:
    """The latest version of one workflow."""
    workflow = await caller.ctx.store.get_workflow(name)
    if workflow is None:
        raise workflow_not_found(name)
    return json_response(views.workflow_detail(workflow))


@router.get(
    "/workflows/{name}/versions",
    response_model=WorkflowList,
    responses=problem_responses(404, 422),
    summary="Every version of a workflow, oldest first",
)
async def versions(name: WorkflowName, caller: Reader) -> Response:
    """All versions of one workflow."""
    found = await caller.ctx.store.list_workflow_versions(name)
    if not found:
        raise workflow_not_found(name)
    return json_response({"items": [views.workflow_summary(w) for w in found]})


@router.get(
    "/workflows/{name}/versions/{version}",
    response_model=WorkflowDetail,
    responses=problem_responses(404, 422),
    summary="One version of a workflow with its spec",
)
async def version(name: WorkflowName, version: VersionNumber, caller: Reader) -> Response:
    """A workflow version by number."""
    workflow = await caller.ctx.store.get_workflow(name, version)
    if workflow is None:
        if await caller.ctx.store.get_workflow(name) is None:
            raise workflow_not_found(name)
        raise version_not_found(name, version)
    return json_response(views.workflow_detail(workflow))
