"""`/api/v1/resources`: pools (capacity, in use, by whom), waiting tasks, capacity overrides."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from basir.api.deps import Operator, Reader, json_response
from basir.api.problems import problem_responses

router = APIRouter(prefix="/api/v1", tags=["resources"], responses=problem_responses(401, 403))

PoolName = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")]


class ResourcesOut(BaseModel):
    """Every pool and every task waiting for one."""

    pools: list[dict[str, Any]]
    waiting: list[dict[str, Any]]


class CapacityIn(BaseModel):
    """A pool's new capacity: cores for cpu (0.5), a size or bytes for memory, slots."""

    model_config = ConfigDict(extra="forbid")

    capacity: float | str = Field(description="cores for cpu, 16Gi or bytes for memory, slots")


@router.get("/resources", response_model=ResourcesOut, summary="Pools and waiting tasks")
async def resources_status(caller: Reader) -> Response:
    """`pools`: name, capacity, in_use and holders (run, task, amount) — cpu in cores, memory in
    bytes, others in slots; `waiting`: run, task, reason, and whether it holds the reservation."""
    return json_response(caller.ctx.engine.resources_status())


@router.put(
    "/resources/pools/{name}",
    response_model=dict[str, Any],
    responses=problem_responses(400, 404, 413, 422),
    summary="Set a pool's capacity (kept across restarts)",
)
async def set_pool(name: PoolName, body: CapacityIn, caller: Operator) -> Response:
    """Takes effect at once: waiting tasks that now fit start; running ones keep what they hold."""
    return json_response(await caller.ctx.engine.set_pool_capacity(name, body.capacity))
