"""Custom dashboard pages: the list with the create and import forms, a dashboard with its
charts and edit form, and the JSON of each panel's chart (same rules as the REST API)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse, RedirectResponse, Response

from basir.boards import panel_data, service
from basir.boards.model import CHART_TYPES, WINDOWS, export_document
from basir.dashboard import board_form
from basir.dashboard.sessions import Session
from basir.dashboard.web import (
    SessionDep,
    can_operate,
    csrf_ok,
    csrf_page,
    dashboard_of,
    error_page,
    render,
    with_headers,
)
from basir.errors import BasirError
from basir.i18n import _

router = APIRouter(include_in_schema=False)

BoardId = Annotated[str, Path(pattern=r"^d[0-9a-f]{16}$")]
MAX_IMPORT_BYTES = 256 * 1024


def chart_labels() -> dict[str, str]:
    """The chart types in the page's language."""
    return {"line": _("Line"), "area": _("Area"), "bar": _("Bar"), "stat": _("Stat")}


def window_labels() -> dict[str, str]:
    """The windows offered by the form, in the page's language."""
    return {
        "15m": _("15 minutes"),
        "1h": _("1 hour"),
        "6h": _("6 hours"),
        "24h": _("24 hours"),
        "7d": _("7 days"),
        "30d": _("30 days"),
    }


async def _list_page(
    request: Request,
    session: Session,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    general: list[str] | None = None,
    status: int = 200,
) -> Response:
    ctx = dashboard_of(request)
    boards = await service.list_boards(ctx.store, session.principal)
    values = {
        "boards": boards,
        "form": form or {"name": "", "visibility": "private", "namespace": ""},
        "errors": errors or {},
        "general": general or [],
    }
    return render(request, "boards.html", values, session=session, status_code=status)


@router.get("/dashboards")
async def boards_page(request: Request, session: SessionDep) -> Response:
    """The dashboards the user may see, a form to create one and a form to import one."""
    return await _list_page(request, session)


@router.post("/dashboards")
async def create_board(request: Request, session: SessionDep) -> Response:
    """Create an empty dashboard and open it (its panels are added on its page)."""
    form = await request.form()
    if not csrf_ok(session, form.get("csrf")):
        return csrf_page(request, session)
    document, _slots, _origin = board_form.posted(form)
    try:
        made = await service.create_board(dashboard_of(request).store, session.principal, document)
    except BasirError as error:
        if error.kind == "invalid":
            errors, general = board_form.place_errors(error.details, [], [])
            posted = {k: str(form.get(k) or "") for k in ("name", "visibility", "namespace")}
            return await _list_page(
                request, session, form=posted, errors=errors, general=general, status=422
            )
        return error_page(request, session, error.message, _status(error))
    return with_headers(RedirectResponse(f"/dashboards/{made['id']}", status_code=303))


@router.post("/dashboards/import")
async def import_board(request: Request, session: SessionDep) -> Response:
    """Import an exported JSON file as a new private dashboard."""
    form = await request.form()
    if not csrf_ok(session, form.get("csrf")):
        return csrf_page(request, session)
    upload = form.get("file")
    raw: Any = None
    if isinstance(upload, UploadFile):
        data = await upload.read(MAX_IMPORT_BYTES + 1)
        try:
            raw = json.loads(data) if len(data) <= MAX_IMPORT_BYTES else None
        except (UnicodeDecodeError, ValueError):
            raw = None
    if raw is None:
        message = _("choose a JSON file exported from a dashboard (at most 256 KiB)")
        return await _list_page(request, session, errors={"file": message}, status=422)
    try:
        made = await service.import_board(dashboard_of(request).store, session.principal, raw)
    except BasirError as error:
        if error.kind == "invalid":
            messages = [str(item.get("message", "")) for item in error.details]
            return await _list_page(
                request, session, errors={"file": "; ".join(messages)}, status=422
            )
        return error_page(request, session, error.message, _status(error))
    return with_headers(RedirectResponse(f"/dashboards/{made['id']}", status_code=303))


def _status(error: BasirError) -> int:
    return {"not_found": 404, "forbidden": 403, "limit": 413}.get(error.kind, 422)


async def _board_page(
    request: Request,
    session: Session,
    board: dict[str, Any],
    *,
    form: dict[str, str] | None = None,
    slots: list[board_form.Slot] | None = None,
    errors: dict[str, str] | None = None,
    general: list[str] | None = None,
    status: int = 200,
) -> Response:
    ctx = dashboard_of(request)
    metrics = sorted(await service.known_metrics(ctx.store))
    values = {
        "board": board,
        "editable": service.editable(board, session.principal),
        "may_share": can_operate(session),
        "metrics": metrics,
        "charts": chart_labels(),
        "chart_types": CHART_TYPES,
        "windows": window_labels(),
        "window_choices": WINDOWS,
        "form": form
        or {
            "name": board["name"],
            "visibility": board["visibility"],
            "namespace": board.get("namespace") or "",
        },
        "slots": slots if slots is not None else board_form.slots_of(board["panels"]),
        "errors": errors or {},
        "general": general or [],
    }
    return render(request, "board.html", values, session=session, status_code=status)


async def _load(request: Request, session: Session, board_id: str) -> dict[str, Any]:
    return await service.get_board(dashboard_of(request).store, session.principal, board_id)


@router.get("/dashboards/{board_id}")
async def board_page(request: Request, session: SessionDep, board_id: BoardId) -> Response:
    """A dashboard: each panel's chart, and (to those who may) the edit form."""
    try:
        board = await _load(request, session, board_id)
    except BasirError as error:
        return error_page(request, session, error.message, _status(error))
    return await _board_page(request, session, board)


@router.post("/dashboards/{board_id}")
async def edit_board(request: Request, session: SessionDep, board_id: BoardId) -> Response:
    """Save the edit form; problems are shown beside their fields and nothing is saved."""
    form = await request.form()
    if not csrf_ok(session, form.get("csrf")):
        return csrf_page(request, session)
    store = dashboard_of(request).store
    document, slots, origin = board_form.posted(form)
    try:
        board = await _load(request, session, board_id)
        await service.update_board(store, session.principal, board_id, document)
    except BasirError as error:
        if error.kind != "invalid":
            return error_page(request, session, error.message, _status(error))
        errors, general = board_form.place_errors(error.details, slots, origin)
        posted = {k: str(form.get(k) or "") for k in ("name", "visibility", "namespace")}
        return await _board_page(
            request,
            session,
            board,
            form=posted,
            slots=slots,
            errors=errors,
            general=general,
            status=422,
        )
    return with_headers(RedirectResponse(f"/dashboards/{board_id}", status_code=303))


@router.post("/dashboards/{board_id}/delete")
async def delete_board(request: Request, session: SessionDep, board_id: BoardId) -> Response:
    """Delete a dashboard the user may change, back to the list."""
    form = await request.form()
    if not csrf_ok(session, form.get("csrf")):
        return csrf_page(request, session)
    try:
        await service.delete_board(dashboard_of(request).store, session.principal, board_id)
    except BasirError as error:
        return error_page(request, session, error.message, _status(error))
    return with_headers(RedirectResponse("/dashboards", status_code=303))


@router.get("/dashboards/{board_id}/export")
async def export_board(request: Request, session: SessionDep, board_id: BoardId) -> Response:
    """The dashboard as a JSON file to download (what the import form takes)."""
    try:
        board = await _load(request, session, board_id)
    except BasirError as error:
        return error_page(request, session, error.message, _status(error))
    headers = {"Content-Disposition": f'attachment; filename="dashboard-{board_id}.json"'}
    body = json.dumps(export_document(board), ensure_ascii=False, indent=2)
    return with_headers(Response(body, media_type="application/json", headers=headers))


@router.get("/dashboards/{board_id}/panels/{index}")
async def panel_json(
    request: Request,
    session: SessionDep,
    board_id: BoardId,
    index: Annotated[int, Path(ge=0, le=99)],
) -> Response:
    """One panel's chart data (JSON), read by the page's script when drawn and refreshed."""
    try:
        board = await _load(request, session, board_id)
    except BasirError as error:
        return with_headers(JSONResponse({"error": error.message}, _status(error)))
    if index >= len(board["panels"]):
        return with_headers(JSONResponse({"error": _("no such panel")}, 404))
    panel = panel_data.panel_of(board["panels"][index])
    return with_headers(JSONResponse(await panel_data.load(dashboard_of(request).store, panel)))
