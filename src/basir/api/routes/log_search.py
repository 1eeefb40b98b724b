"""`/api/v1/logs/search`: task log lines containing a text, across runs."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from starlette.responses import Response

from basir.api.deps import Reader, json_response
from basir.api.problems import problem_responses
from basir.monitoring.log_search import MAX_LIMIT, MAX_QUERY_CHARS, search_logs
from basir.monitoring.report_source import parse_moment

router = APIRouter(prefix="/api/v1", tags=["logs"], responses=problem_responses(401, 403))


class LogMatchView(BaseModel):
    """One matching log line."""

    run_id: str
    workflow: str
    task_id: str
    line_no: int
    line: str


class LogSearchResult(BaseModel):
    """Matches, newest run first; `truncated` when the limit or the scan budget was reached."""

    items: list[LogMatchView]
    truncated: bool


@router.get(
    "/logs/search",
    response_model=LogSearchResult,
    responses=problem_responses(422),
    summary="Search task logs across runs (newest runs first)",
)
async def search(
    caller: Reader,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS, description="text to find")],
    workflow: Annotated[str | None, Query(max_length=200)] = None,
    since: Annotated[
        str | None, Query(description="ISO 8601, epoch seconds or a duration ago; default all")
    ] = None,
    until: Annotated[str | None, Query(description="default now")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> Response:
    """Lines containing `q` (case-insensitive) in the logs of runs created in the window."""
    now = time.time()
    found = await search_logs(
        caller.ctx.store,
        caller.ctx.settings.logs_dir,
        q,
        since=parse_moment(since, "query.since", now) or 0.0,
        until=parse_moment(until, "query.until", now) or float("inf"),
        workflow=workflow,
        limit=limit,
    )
    return json_response(
        {"items": [asdict(m) for m in found.matches], "truncated": found.truncated}
    )
