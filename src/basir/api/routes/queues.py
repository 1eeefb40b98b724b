"""`/api/v1/queues`: named queues and concurrency keys — limits, holders, who waits and why."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from starlette.responses import Response

from basir.api.deps import Operator, Reader, json_response
from basir.api.problems import problem_responses
from basir.engine.queue_limits import set_queue_limit

router = APIRouter(prefix="/api/v1", tags=["queues"], responses=problem_responses(401, 403))

QueueName = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")]


class LimitIn(BaseModel):
    """A queue's limit as in `BASIR_QUEUES`: slots, slots@count/unit or @count/unit."""

    model_config = ConfigDict(extra="forbid")

    limit: str | StrictInt = Field(description="2, 4@10/s or @60/m (unit s, m or h)")


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


@router.put(
    "/queues/{name}",
    response_model=dict[str, Any],
    responses=problem_responses(400, 413, 422),
    summary="Set or add a queue's limit (kept across restarts)",
)
async def set_queue(name: QueueName, body: LimitIn, caller: Operator) -> Response:
    """Takes effect at once: tasks waiting for the queue are offered again; running ones keep
    their slots.  A new name adds a queue that workflows may then name."""
    admission = caller.ctx.engine.flow.admission
    return json_response(await set_queue_limit(caller.ctx.store, admission, name, body.limit))
