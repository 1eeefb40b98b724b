"""`/api/v1/decisions`: L2 asks for work, idempotently; and asks how it went."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from starlette.responses import Response

from basir.api.deps import Operator, Reader, json_response
from basir.api.problems import problem_responses
from basir.api.schemas import DECISION_ID_PATTERN, DecisionIn, DecisionOut, DecisionView
from basir.coordinator.decisions import DecisionRequest
from basir.engine.report import iso

router = APIRouter(prefix="/api/v1", tags=["decisions"], responses=problem_responses(401, 403))

DecisionId = Annotated[str, Path(pattern=DECISION_ID_PATTERN)]


@router.post(
    "/decisions",
    status_code=201,
    response_model=DecisionOut,
    responses={
        200: {"model": DecisionOut, "description": "a repeat: the run the first request started"},
        **problem_responses(404, 409, 413, 422),
    },
    summary="Carry out an L2 decision: one run per decision_id, however often it is sent",
)
async def submit(body: DecisionIn, caller: Operator) -> Response:
    """Start the decision's run (201), or return the one already started for this id (200)."""
    request = DecisionRequest(
        decision_id=body.decision_id,
        workflow=body.workflow,
        params=body.params,
        priority=body.priority,
        deadline_s=body.deadline,
        callback_url=body.callback_url,
    )
    result = await caller.ctx.decisions.submit(request, by=caller.user)
    payload = {"decision_id": result.decision_id, "run_id": result.run_id, "status": result.status}
    return json_response(
        payload,
        201 if result.created else 200,
        headers={"Location": f"/api/v1/decisions/{result.decision_id}"},
    )


@router.get(
    "/decisions/{decision_id}",
    response_model=DecisionView,
    responses=problem_responses(404, 422),
    summary="A decision with its run's status and, once the run has ended, its outcome",
)
async def show(decision_id: DecisionId, caller: Reader) -> Response:
    """The decision, its run's current status, and the run report when finished."""
    view = await caller.ctx.decisions.get(decision_id)
    created_at = view.get("created_at")
    view["created_at"] = iso(created_at) if isinstance(created_at, int | float) else None
    callback = view.get("callback")
    if callback is not None:
        delivered_at = callback.get("delivered_at")
        callback["delivered_at"] = iso(delivered_at) if isinstance(delivered_at, float) else None
    return json_response(view)
