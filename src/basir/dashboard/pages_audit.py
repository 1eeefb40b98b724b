"""The audit page (admins only): the hash-chained audit log, newest first, paged by id."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from basir.dashboard.web import SessionDep, can_admin, dashboard_of, forbidden_page, render
from basir.i18n import _
from basir.store.audit_records import AuditEntry

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 100
MAX_ENTRY_ID = 2**62
API_PREFIX = "/api/v1"


def action_labels() -> dict[str, str]:
    """What a recorded request did, in the page's language, by method and route template
    (the API's and the dashboard's forms alike, without the `/api/v1` prefix)."""
    return {
        "POST /workflows": _("applied a workflow"),
        "POST /workflows/{name}/runs": _("started a run"),
        "POST /runs/{run_id}/pause": _("paused a run"),
        "POST /runs/{run_id}/resume": _("resumed a run"),
        "POST /runs/{run_id}/cancel": _("cancelled a run"),
        "POST /runs/{run_id}/retry": _("retried a run"),
        "PATCH /runs/{run_id}": _("added tasks to a run"),
        "POST /runs/{run_id}/tasks/{task_id}/pause": _("paused a task"),
        "POST /runs/{run_id}/tasks/{task_id}/resume": _("resumed a task"),
        "POST /schedules/{name}/pause": _("paused a schedule"),
        "POST /schedules/{name}/resume": _("resumed a schedule"),
        "POST /schedules/{name}/backfill": _("requested a backfill"),
        "POST /scheduler/{name}/pause": _("paused a schedule"),
        "POST /scheduler/{name}/resume": _("resumed a schedule"),
        "POST /decisions": _("sent a decision"),
        "POST /alerts/{alert_id}/ack": _("acknowledged an alert"),
        "POST /alerts/silences": _("silenced alerts"),
        "POST /login": _("logged in"),
        "POST /logout": _("logged out"),
        "POST /language": _("changed the language"),
        "POST /admin/users": _("created a user"),
        "POST /admin/tokens": _("issued a token"),
        "POST /admin/tokens/{token_hash}/revoke": _("revoked a token"),
    }


def describe(entry: AuditEntry, labels: dict[str, str]) -> str:
    """The label of an entry's action, or the action itself when it has none.  A dashboard
    route with an `{action}` parameter (`/runs/{run_id}/{action}`) reads as that action."""
    method, _space, route = entry.action.partition(" ")
    if route.startswith(API_PREFIX + "/"):
        route = route[len(API_PREFIX) :]
    if "{action}" in route and isinstance(entry.target.get("action"), str):
        route = route.replace("{action}", entry.target["action"])
    return labels.get(f"{method} {route}", entry.action)


def before_of(query: Any) -> int | None:
    """The `before` entry id of an older page, when a valid one is given."""
    text = str(query.get("before") or "")
    return int(text) if text.isdigit() and 0 < int(text) <= MAX_ENTRY_ID else None


@router.get("/audit")
async def audit_page(request: Request, session: SessionDep) -> Response:
    """Audit log entries, newest first; `?before=ID` pages back."""
    if not can_admin(session):
        return forbidden_page(request, session, "admin")
    store = dashboard_of(request).store
    before = before_of(request.query_params)
    entries = await store.audit_list(before_id=before, limit=PAGE_SIZE)
    labels = action_labels()
    rows = [{"entry": e, "label": describe(e, labels)} for e in entries]
    older = entries[-1].id if len(entries) == PAGE_SIZE and entries[-1].id > 1 else None
    values = {"rows": rows, "older": older, "paged": before}
    return render(request, "audit.html", values, session=session)
