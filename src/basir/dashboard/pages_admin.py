"""The admin page (admins only): users and their tokens; create a user, issue, revoke a token.

A new token is shown once, on the page that issued it; the store keeps only its hash.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import RedirectResponse, Response

from basir.dashboard.sessions import Session
from basir.dashboard.web import (
    SessionDep,
    can_admin,
    csrf_ok,
    csrf_page,
    dashboard_of,
    error_page,
    forbidden_page,
    render,
    with_headers,
)
from basir.i18n import _
from basir.security import tokens

router = APIRouter(include_in_schema=False)

USER_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
TOKEN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")
TokenHash = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")]
MAX_LISTED = 1000


def user_form(form: Mapping[str, Any]) -> tuple[str, str, dict[str, str]]:
    """The name and role of a new user, and errors by field."""
    name = str(form.get("name") or "").strip()
    role = str(form.get("role") or "")
    errors = {}
    if not USER_NAME.match(name):
        errors["name"] = _("1 to 63 lower-case letters, digits, dots, dashes or underscores")
    if role not in tokens.ROLES:
        errors["role"] = _("choose admin, operator or viewer")
    return name, role, errors


def token_form(form: Mapping[str, Any], users: set[str]) -> tuple[str, str, dict[str, str]]:
    """The user and label of a new token, and errors by field."""
    user = str(form.get("user") or "")
    label = str(form.get("label") or "").strip()
    errors = {}
    if user not in users:
        errors["user"] = _("choose an existing user")
    if not TOKEN_NAME.match(label):
        errors["label"] = _("1 to 64 letters, digits, spaces, dots, dashes or underscores")
    return user, label, errors


async def _page(
    request: Request,
    session: Session,
    *,
    errors: Mapping[str, str] | None = None,
    form: Mapping[str, Any] | None = None,
    issued: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    store = dashboard_of(request).store
    users = [doc for _key, doc in await store.kv_list(tokens.USER_KIND, limit=MAX_LISTED)]
    found = await store.kv_list(tokens.TOKEN_KIND, limit=MAX_LISTED)
    listed = sorted(found, key=lambda item: -float(item[1].get("created_at") or 0))
    values = {
        "users": sorted(users, key=lambda u: str(u.get("name"))),
        "tokens": [{"hash": key, **doc} for key, doc in listed],
        "roles": tokens.ROLES,
        "errors": errors or {},
        "form": {k: str(v) for k, v in (form or {}).items() if k != "csrf"},
        "issued": issued,
    }
    return render(request, "admin.html", values, session=session, status_code=status)


async def _refused(request: Request, session: Session, form: Mapping[str, Any]) -> Response | None:
    if not csrf_ok(session, form.get("csrf")):
        return csrf_page(request, session)
    if not can_admin(session):
        return forbidden_page(request, session, "admin")
    return None


@router.get("/admin")
async def admin_page(request: Request, session: SessionDep) -> Response:
    """Users with their roles, tokens with their user and state; forms to change them."""
    if not can_admin(session):
        return forbidden_page(request, session, "admin")
    return await _page(request, session)


@router.post("/admin/users")
async def create_user(request: Request, session: SessionDep) -> Response:
    """Create a user with one role (then issue it a token)."""
    form = await request.form()
    if (refused := await _refused(request, session, form)) is not None:
        return refused
    name, role, errors = user_form(form)
    store = dashboard_of(request).store
    if not errors and not await tokens.create_user(store, name, [role]):
        errors["name"] = _("a user named {name} exists", name=name)
    if errors:
        return await _page(request, session, errors=errors, form=form, status=422)
    return with_headers(RedirectResponse("/admin", status_code=303))


@router.post("/admin/tokens")
async def issue_token(request: Request, session: SessionDep) -> Response:
    """Issue a token to a user; the page shows it once."""
    form = await request.form()
    if (refused := await _refused(request, session, form)) is not None:
        return refused
    store = dashboard_of(request).store
    users = {key for key, _doc in await store.kv_list(tokens.USER_KIND, limit=MAX_LISTED)}
    user, label, errors = token_form(form, users)
    if errors:
        return await _page(request, session, errors=errors, form=form, status=422)
    token = await tokens.issue_token(store, user, name=label)
    issued = {"user": user, "label": label, "token": token}
    return await _page(request, session, issued=issued, status=201)


@router.post("/admin/tokens/{token_hash}/revoke")
async def revoke_token(request: Request, session: SessionDep, token_hash: TokenHash) -> Response:
    """Revoke a token: the API and every dashboard session it opened refuse it at once."""
    form = await request.form()
    if (refused := await _refused(request, session, form)) is not None:
        return refused
    ctx = dashboard_of(request)
    if not await tokens.revoke_token(ctx.store, token_hash):
        return error_page(request, session, _("no such token"), 404)
    if ctx.auth is not None:
        ctx.auth.forget(token_hash)
    return with_headers(RedirectResponse("/admin", status_code=303))
