"""`/api/v1/resources/reservations` and `/api/v1/resources/quotas`: who may use what, when.

Reservations keep an amount of a pool for a namespace or a workflow in a window (once, or
recurring by cron); quotas limit what one namespace holds and starts, and weigh its fair share.
Both take effect at once on the server's engine and are kept across restarts.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from basir.api.deps import Caller, Operator, Reader, allow, json_response
from basir.api.problems import problem_responses
from basir.engine import resource_policies
from basir.resources.reservations import ReservationInput
from basir.security.auth import Permission

router = APIRouter(
    prefix="/api/v1/resources", tags=["resources"], responses=problem_responses(401, 403)
)

Admin = Annotated[Caller, Depends(allow(Permission.ADMIN))]
Name = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")]
ReservationId = Annotated[str, Path(pattern=r"^rsv-[0-9a-f]{12}$")]
NAME = r"^[a-z0-9][a-z0-9._-]{0,62}$"
Amount = float | Annotated[str, Field(max_length=32)]
Instant = float | Annotated[str, Field(max_length=64)]


class ReservationIn(BaseModel):
    """A reservation: a pool, an amount, one holder, and once (from, to) or recurring (cron)."""

    # strict: JSON `true` is not an amount of 1 (nor 1.5 a whole number of tasks)
    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)

    pool: str = Field(pattern=NAME)
    amount: Amount = Field(description="cores for cpu, a size for memory, slots otherwise")
    namespace: str | None = Field(None, pattern=NAME)
    workflow: str | None = Field(None, pattern=NAME)
    from_: Instant | None = Field(None, alias="from", description="ISO 8601 with offset")
    to: Instant | None = Field(None, description="ISO 8601 with offset")
    cron: str | None = Field(None, max_length=200, description="recurring: when windows open")
    duration: float | Annotated[str, Field(max_length=32)] | None = Field(
        None, description="recurring: how long each window lasts (2h, or seconds)"
    )
    timezone: str = Field("UTC", max_length=64, description="IANA zone of the cron")


class QuotaIn(BaseModel):
    """A namespace's quota: each limit optional (unlimited when absent)."""

    model_config = ConfigDict(extra="forbid", strict=True)  # `true` is not 1

    tasks: int | None = Field(None, description="concurrent tasks")
    cpu: float | None = Field(None, description="cores its running tasks may hold")
    memory: int | Annotated[str, Field(max_length=32)] | None = Field(
        None, description="memory its running tasks may hold (8Gi or bytes)"
    )
    runs: int | None = Field(None, description="active runs")
    runs_per_hour: int | None = Field(None, description="runs started per hour")
    policy: str = Field("queue", description="over quota: queue (wait) or refuse (429)")
    weight: int = Field(1, description="fair share weight when namespaces contend")


@router.post(
    "/reservations",
    status_code=201,
    response_model=dict[str, Any],
    responses=problem_responses(400, 404, 413, 422),
    summary="Reserve an amount of a pool for a namespace or workflow",
)
async def create_reservation(body: ReservationIn, caller: Operator) -> Response:
    """422 `reservation.overcommitted` when the pool's reservations would exceed its capacity."""
    given = ReservationInput(
        pool=body.pool,
        amount=body.amount,
        namespace=body.namespace,
        workflow=body.workflow,
        start=body.from_,
        end=body.to,
        cron=body.cron,
        duration=body.duration,
        timezone=body.timezone,
    )
    made = await resource_policies.add_reservation(caller.ctx.engine, given, caller.user)
    return json_response(made, 201)


@router.get("/reservations", response_model=list[dict[str, Any]], summary="Every reservation, now")
async def list_reservations(caller: Reader) -> Response:
    """Each with `active` (a window holds now), `until` (its end) and `next` (next opening)."""
    return json_response(await resource_policies.list_reservations(caller.ctx.engine))


@router.delete(
    "/reservations/{reservation_id}",
    status_code=204,
    responses=problem_responses(404, 422),
    summary="Delete a reservation",
)
async def delete_reservation(reservation_id: ReservationId, caller: Operator) -> Response:
    """What it kept out may start at once."""
    await resource_policies.delete_reservation(caller.ctx.engine, reservation_id)
    return Response(status_code=204)


@router.get("/quotas", response_model=list[dict[str, Any]], summary="Every namespace quota")
async def list_quotas(caller: Reader) -> Response:
    """Namespaces without a quota are unlimited with weight 1."""
    return json_response(await resource_policies.list_quotas(caller.ctx.engine))


@router.get(
    "/quotas/{namespace}",
    response_model=dict[str, Any],
    responses=problem_responses(404, 422),
    summary="A namespace's quota and what it uses now",
)
async def get_quota(namespace: Name, caller: Reader) -> Response:
    """`in_use`: tasks, cpu (cores), memory (bytes), active runs, runs started in the past hour."""
    return json_response(await resource_policies.get_quota(caller.ctx.engine, namespace))


@router.put(
    "/quotas/{namespace}",
    response_model=dict[str, Any],
    responses=problem_responses(400, 413, 422),
    summary="Set a namespace's quota (kept across restarts)",
)
async def set_quota(namespace: Name, body: QuotaIn, caller: Admin) -> Response:
    """Replaces the whole quota; takes effect at once (waiting tasks that now fit start)."""
    data = body.model_dump(exclude_none=True)
    return json_response(await resource_policies.set_quota(caller.ctx.engine, namespace, data))
