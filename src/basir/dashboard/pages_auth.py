"""Login, logout and the language switch."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from basir.dashboard import sessions
from basir.dashboard.sessions import LOGIN_CSRF_COOKIE, SESSION_COOKIE, load_session, same
from basir.dashboard.web import (
    SessionDep,
    csrf_ok,
    csrf_page,
    dashboard_of,
    page_language,
    render,
    secure_cookies,
    set_language_cookie,
    with_headers,
)
from basir.i18n import _
from basir.i18n.catalog import SUPPORTED_LOCALES
from basir.security import tokens
from basir.security.audit_recorder import mark_caller

router = APIRouter(include_in_schema=False)
MAX_FIELD_CHARS = 512


def _redirect(request: Request, target: str) -> Response:
    return with_headers(RedirectResponse(target, status_code=303))


def _safe_next(target: object) -> str:
    """Only a path of this site (never `//host` or a URL) is a place to go back to."""
    if isinstance(target, str) and target.startswith("/") and not target.startswith("//"):
        return target[:MAX_FIELD_CHARS]
    return "/"


def _login_page(request: Request, error: str | None = None, user: str = "") -> Response:
    csrf = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        {"csrf": csrf, "error": error, "login_user": user},
        session=None,
        status_code=401 if error else 200,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE, csrf, httponly=True, samesite="strict", secure=secure_cookies(request)
    )
    return response


@router.get("/login")
async def login_form(request: Request) -> Response:
    """The only page shown without a session."""
    ctx = dashboard_of(request)
    if await load_session(ctx.store, request.cookies.get(SESSION_COOKIE)) is not None:
        return _redirect(request, "/")
    page_language(request)
    return _login_page(request)


@router.post("/login")
async def login(request: Request) -> Response:
    """Check user name and token; open a session and go to the overview."""
    page_language(request)
    form = await request.form()
    if not same(request.cookies.get(LOGIN_CSRF_COOKIE), _text(form.get("csrf"))):
        return csrf_page(request, None)
    user = _text(form.get("user")).strip()
    token = _text(form.get("token")).strip()
    ctx = dashboard_of(request)
    principal = None
    if tokens.looks_like_token(token):
        principal = await tokens.lookup(ctx.store, token)
    if principal is None or not same(principal.user, user):
        return _login_page(request, _("unknown user name or token"), user)
    mark_caller(request.scope, principal)  # the audit log names who logged in
    session_id = await sessions.open_session(ctx.store, principal, token)
    response = _redirect(request, "/")
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=sessions.SESSION_TTL_S,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    saved = await sessions.preferred_language(ctx.store, principal.user)
    if saved in SUPPORTED_LOCALES and sessions.LANG_COOKIE not in request.cookies:
        set_language_cookie(request, response, saved)
    return response


@router.post("/logout")
async def logout(request: Request, session: SessionDep) -> Response:
    """Close the session; the cookie no longer opens anything."""
    form = await request.form()
    if not csrf_ok(session, form.get("csrf")):
        return csrf_page(request, session)
    await sessions.close_session(dashboard_of(request).store, session)
    response = _redirect(request, "/login")
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.post("/language")
async def switch_language(request: Request) -> Response:
    """Switch the language; remembered in this browser and, when logged in, for the user."""
    form = await request.form()
    lang = _text(form.get("lang"))
    back = _safe_next(form.get("next"))
    if lang not in SUPPORTED_LOCALES:
        lang = "en"
    ctx = dashboard_of(request)
    session = await load_session(ctx.store, request.cookies.get(SESSION_COOKIE))
    page_language(request)
    if session is None:
        if not same(request.cookies.get(LOGIN_CSRF_COOKIE), _text(form.get("csrf"))):
            return csrf_page(request, None)
        back = "/login"
    else:
        if not csrf_ok(session, form.get("csrf")):
            return csrf_page(request, session)
        await sessions.remember_language(ctx.store, session.principal.user, lang)
    response = _redirect(request, back)
    set_language_cookie(request, response, lang)
    return response


def _text(value: object) -> str:
    return value[:MAX_FIELD_CHARS] if isinstance(value, str) else ""
