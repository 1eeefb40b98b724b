"""`/api/v1/queues`: named queues and concurrency keys — limits, holders, who waits and why."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.responses import Response

from basir.api.deps import Reader, json_response
from basir.api.problems import problem_responses

router = APIRouter(prefix="/api/v1", tags=["queues"], responses=problem_responses(401, 403))


class QueuesOut(BaseModel):
    """Every queue, every task key in use, and what waits for them."""

    queues: list[dict[str, Any]]
    keys: list[dict[str, Any]]
    waiting: list[dict[str, Any]]
    runs_waiting: list[dict[str, Any]]


@router.get("/queues", response_model=QueuesOut, summary="Queues, keys and who waits for them")
async def queues_status(caller: Reader) -> Response:
    """`queues`: name, limit (as in `BASIR_QUEUES`), slots, in_use and holders (run, task);
    `keys`: task concurrency keys in use and their holders; `waiting`: tasks held back by a
    queue, key or rate limit (run, task, `on`, reason); `runs_waiting`: runs queued behind their
    workflow's `max_active_runs` or `concurrency_key` (run, workflow, reason)."""
    return json_response(caller.ctx.engine.gate.status())
