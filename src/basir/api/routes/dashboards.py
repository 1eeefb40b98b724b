"""`/api/v1/dashboards`: custom dashboards (list, create, read, replace, delete, export, import).

Bodies are read as JSON objects and validated by `basir.boards.model` so that every problem
comes back at its field with a `dashboard.*` code; their schema is documented from
`DashboardIn` / `DashboardExport`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from basir.api.deps import Reader, json_response
from basir.api.problems import problem_responses
from basir.boards import service
from basir.boards.model import (
    EXPORT_FORMAT,
    MAX_NAME_CHARS,
    MAX_PANELS,
    MAX_TITLE_CHARS,
    export_document,
)

router = APIRouter(prefix="/api/v1", tags=["dashboards"], responses=problem_responses(401, 403))

BoardId = Annotated[str, Path(pattern=r"^d[0-9a-f]{16}$")]
RawBody = Annotated[dict[str, Any], Body()]


class PanelIn(BaseModel):
    """One panel: a metric of the history drawn over a window."""

    model_config = ConfigDict(extra="forbid")

    title: str | dict[str, str] | None = Field(
        None, description=f"a text, or {{en, ar}} texts; at most {MAX_TITLE_CHARS} characters"
    )
    metric: str = Field(description="a metric name of GET /api/v1/metrics")
    chart: Literal["line", "area", "bar", "stat"] = "line"
    window: str = Field("1h", description="a duration from 15m to 30d")
    step: str | None = Field(None, description="60s, 5m, 1h; at most 1,500 points per panel")
    by: str | None = Field(None, description="a label to group (sum) series by")


class DashboardIn(BaseModel):
    """A dashboard to create or the whole new content of one."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    visibility: Literal["private", "shared"] = "private"
    namespace: str | None = Field(
        None, description="the namespace of a shared dashboard (default `default`)"
    )
    panels: list[PanelIn] = Field(default_factory=list, max_length=MAX_PANELS)


class Dashboard(DashboardIn):
    """A stored dashboard."""

    id: str
    owner: str
    created_at: float
    updated_at: float
    updated_by: str


class DashboardList(BaseModel):
    """The dashboards the caller may see: their own private ones and every shared one."""

    items: list[Dashboard]


class DashboardExport(BaseModel):
    """A dashboard as a portable JSON file (no owner, no id)."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["basir-dashboard/1"] = Field(description=f"always `{EXPORT_FORMAT}`")
    name: str
    panels: list[PanelIn]


def _body_doc(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    schema["additionalProperties"] = False
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    }


_ERRORS = problem_responses(404, 422)


@router.get(
    "/dashboards",
    response_model=DashboardList,
    responses=problem_responses(422),
    summary="Dashboards the caller may see",
)
async def list_dashboards(
    caller: Reader,
    namespace: Annotated[
        str | None,
        Query(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", description="shared ones only"),
    ] = None,
) -> Response:
    """The caller's private dashboards and all shared ones (or the shared ones of one
    namespace), by name."""
    items = await service.list_boards(caller.ctx.store, caller.principal, namespace)
    return json_response({"items": items})


@router.post(
    "/dashboards",
    status_code=201,
    response_model=Dashboard,
    responses=problem_responses(413, 422),
    openapi_extra=_body_doc(DashboardIn),
    summary="Create a dashboard (shared ones: operators and admins)",
)
async def create_dashboard(caller: Reader, body: RawBody) -> Response:
    """Validate and store; 422 `dashboard.invalid` lists each problem with its code."""
    document = await service.create_board(caller.ctx.store, caller.principal, body)
    return json_response(
        document, 201, headers={"Location": f"/api/v1/dashboards/{document['id']}"}
    )


@router.post(
    "/dashboards/import",
    status_code=201,
    response_model=Dashboard,
    responses=problem_responses(413, 422),
    openapi_extra=_body_doc(DashboardExport),
    summary="Import an exported dashboard as a new private one",
)
async def import_dashboard(caller: Reader, body: RawBody) -> Response:
    """The body is what `export` answered; the new dashboard is the caller's, private."""
    document = await service.import_board(caller.ctx.store, caller.principal, body)
    return json_response(
        document, 201, headers={"Location": f"/api/v1/dashboards/{document['id']}"}
    )


@router.get(
    "/dashboards/{board_id}",
    response_model=Dashboard,
    responses=_ERRORS,
    summary="One dashboard",
)
async def get_dashboard(board_id: BoardId, caller: Reader) -> Response:
    """404 for one that does not exist or is another user's private dashboard."""
    return json_response(await service.get_board(caller.ctx.store, caller.principal, board_id))


@router.put(
    "/dashboards/{board_id}",
    response_model=Dashboard,
    responses=problem_responses(404, 413, 422),
    openapi_extra=_body_doc(DashboardIn),
    summary="Replace a dashboard's name, sharing and panels",
)
async def replace_dashboard(board_id: BoardId, caller: Reader, body: RawBody) -> Response:
    """Private dashboards by their owner, shared ones by operators and admins."""
    document = await service.update_board(caller.ctx.store, caller.principal, board_id, body)
    return json_response(document)


@router.delete(
    "/dashboards/{board_id}",
    status_code=204,
    responses=_ERRORS,
    summary="Delete a dashboard",
)
async def delete_dashboard(board_id: BoardId, caller: Reader) -> Response:
    """Private dashboards by their owner, shared ones by operators and admins."""
    await service.delete_board(caller.ctx.store, caller.principal, board_id)
    return Response(status_code=204)


@router.get(
    "/dashboards/{board_id}/export",
    response_model=DashboardExport,
    responses=_ERRORS,
    summary="A dashboard as a portable JSON document",
)
async def export_dashboard(board_id: BoardId, caller: Reader) -> Response:
    """`{format, name, panels}`, for `POST /api/v1/dashboards/import`."""
    document = await service.get_board(caller.ctx.store, caller.principal, board_id)
    return json_response(
        export_document(document),
        headers={"Content-Disposition": f'attachment; filename="dashboard-{board_id}.json"'},
    )
