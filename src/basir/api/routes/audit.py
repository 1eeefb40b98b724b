"""`/api/v1/audit`: the hash-chained audit log, listed and verified (admins only)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from starlette.responses import Response

from basir.api import views
from basir.api.deps import Caller, allow, json_response
from basir.api.problems import problem_responses
from basir.monitoring.report_source import parse_moment
from basir.security.audit import verify_log
from basir.security.auth import Permission

router = APIRouter(prefix="/api/v1", tags=["audit"], responses=problem_responses(401, 403))

Admin = Annotated[Caller, Depends(allow(Permission.ADMIN))]
MAX_LIST = 500
MAX_ID = 2**62


class AuditEntryView(BaseModel):
    """One recorded action."""

    id: int
    time: str
    timestamp: float
    actor: str | None
    action: str
    target: dict[str, Any]
    status: int
    detail: dict[str, Any]
    prev_hash: str
    hash: str


class AuditList(BaseModel):
    """Entries, newest first; `next` is the `before` of the next (older) page, or null."""

    items: list[AuditEntryView]
    next: int | None


class AuditVerdict(BaseModel):
    """Whether the chain is intact: entries read, and the id of the first broken one."""

    ok: bool
    entries: int
    first_broken_id: int | None


@router.get(
    "/audit",
    response_model=AuditList,
    responses=problem_responses(422),
    summary="The audit log, newest first (admins only)",
)
async def list_audit(
    caller: Admin,
    actor: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    since: Annotated[
        str | None, Query(description="ISO 8601, epoch seconds or a duration ago")
    ] = None,
    until: Annotated[
        str | None, Query(description="ISO 8601, epoch seconds or a duration ago")
    ] = None,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="entries below this id")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 100,
) -> Response:
    """Recorded actions filtered by actor and time (`[since, until)`), paged by `before`."""
    now = time.time()
    found = await caller.ctx.store.audit_list(
        before_id=before,
        limit=limit,
        actor=actor,
        since=parse_moment(since, "query.since", now),
        until=parse_moment(until, "query.until", now),
    )
    following = found[-1].id if len(found) == limit and found[-1].id > 1 else None
    return json_response({"items": [views.audit_entry(e) for e in found], "next": following})


@router.get(
    "/audit/verify",
    response_model=AuditVerdict,
    summary="Check the audit log's hash chain from the first entry (admins only)",
)
async def verify_audit(caller: Admin) -> Response:
    """Recompute every entry's hash and link; report the first entry that does not match."""
    return json_response(await verify_log(caller.ctx.store))
