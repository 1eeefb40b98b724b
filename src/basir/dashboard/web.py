"""Rendering pages: the Jinja2 environment, the page's language, security headers, sessions.

Every page goes through `render`, which sets the language of the request (cookie, else the
user's saved choice, else `Accept-Language`), fills the layout's common values and adds the
security headers: a CSP without inline script, no framing, nosniff, no referrer.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_datetime
from babel.numbers import NumberPattern
from fastapi import Depends, Request
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.responses import HTMLResponse, RedirectResponse, Response

from basir.dashboard.context import DashboardContext
from basir.dashboard.sessions import (
    LANG_COOKIE,
    SESSION_COOKIE,
    Session,
    same,
)
from basir.i18n import _, current_locale, negotiate, ngettext, set_locale, state_label
from basir.i18n.catalog import SUPPORTED_LOCALES
from basir.i18n.deferred import render_message
from basir.monitoring import report_render
from basir.security.audit_recorder import mark_caller
from basir.security.auth import Permission, permissions_of
from basir.store.records import RunRecord

TEMPLATES_DIR = Path(__file__).parent / "templates"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
LANG_COOKIE_MAX_AGE_S = 365 * 24 * 3600
RTL_LOCALES = frozenset({"ar"})


@functools.cache
def environment() -> Environment:
    """The templates, autoescaped, with `_`, `ngettext` and the formatters as globals."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # templates ship with the package: no stat() per render
    )
    env.globals.update(
        _=_,
        ngettext=ngettext,
        state_label=state_label,
        when=format_when,
        when_in=format_in_zone,
        number=format_number,
        started_by=started_by,
        secs=report_render.seconds,
        percent=report_render.percent,
    )
    env.filters["localised"] = localised
    env.filters["message"] = render_message  # a stored error or reason, in the page's language
    return env


def format_when(timestamp: float | None) -> Markup:
    """A `<time>` in the page's language (Babel), kept left-to-right inside Arabic text."""
    if timestamp is None:
        return Markup("—")
    return _when(timestamp, current_locale())


@functools.lru_cache(maxsize=4096)
def _when(timestamp: float, lang: str) -> Markup:
    """Remembered: a live list re-renders the same times again and again."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    text = format_datetime(moment, "yyyy-MM-dd HH:mm:ss", locale=_decimal(lang)[0]) + " UTC"
    iso = moment.isoformat().replace("+00:00", "Z")
    return Markup('<time datetime="{}" dir="ltr">{}</time>').format(iso, text)


def format_in_zone(timestamp: float | None, zone: str) -> Markup:
    """A `<time>` in a given IANA time zone (a schedule's own), with its UTC offset."""
    if timestamp is None:
        return Markup("—")
    try:
        tz: tzinfo = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        tz = UTC
    moment = datetime.fromtimestamp(timestamp, tz)
    text = format_datetime(moment, "yyyy-MM-dd HH:mm xxx", locale=current_locale())
    return Markup('<time datetime="{}" dir="ltr">{}</time>').format(moment.isoformat(), text)


@functools.cache
def _decimal(lang: str) -> tuple[Locale, NumberPattern]:
    locale = Locale.parse(lang)
    return locale, locale.decimal_formats[None]


def format_number(value: float) -> str:
    """A number in the page's language (Babel's decimal pattern, parsed once per language).

    The same text as `babel.numbers.format_decimal`, three times cheaper: a big page formats
    hundreds of numbers.
    """
    locale, pattern = _decimal(current_locale())
    text: str = pattern.apply(value, locale, numbering_system="latn")
    return text


def started_by(run: RunRecord) -> str:
    """Who started a run, in the page's language: its user, else what triggered it."""
    who = run.created_by or ""
    kind, _sep, rest = who.partition(":")
    if kind == "schedule" and rest:
        return _("schedule {name}", name=rest)
    if who:
        return who
    trigger = run.trigger or ""
    if trigger.startswith("run:"):
        return _("run {run_id}", run_id=trigger.removeprefix("run:"))
    labels = {
        "api": _("the API"),
        "dashboard": _("the dashboard"),
        "schedule": _("a schedule"),
        "decision": _("a decision"),
        "user": _("a user"),
    }
    return labels.get(trigger, trigger)


def localised(value: object) -> str:
    """A `{en: ..., ar: ...}` text in the page's language (English, else any, as fallback)."""
    if isinstance(value, Mapping):
        for code in (current_locale(), "en", *value.keys()):
            if value.get(code):
                return str(value[code])
        return ""
    return "" if value is None else str(value)


def dashboard_of(request: Request) -> DashboardContext:
    """The dashboard context of the app serving `request`."""
    ctx: DashboardContext = request.app.state.dashboard
    return ctx


def page_language(request: Request, saved: str | None = None) -> str:
    """Cookie, else the user's saved choice, else `Accept-Language`; made the active locale."""
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen not in SUPPORTED_LOCALES:
        chosen = saved if saved in SUPPORTED_LOCALES else None
    return set_locale(chosen or negotiate(request.headers.get("accept-language")))


def secure_cookies(request: Request) -> bool:
    """Cookies are `Secure` when the browser reached us over TLS."""
    return request.url.scheme == "https"


def set_language_cookie(request: Request, response: Response, lang: str) -> None:
    """Remember the language in this browser for a year."""
    response.set_cookie(
        LANG_COOKIE,
        lang,
        max_age=LANG_COOKIE_MAX_AGE_S,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
    )


def with_headers(response: Response) -> Response:
    """Add the dashboard's security headers."""
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    return response


def render(
    request: Request,
    template: str,
    values: Mapping[str, Any],
    *,
    session: Session | None,
    status_code: int = 200,
) -> HTMLResponse:
    """A page (or fragment) in the request's language with the security headers."""
    lang = current_locale()
    common = {
        "lang": lang,
        "dir": "rtl" if lang in RTL_LOCALES else "ltr",
        "other_lang": "en" if lang == "ar" else "ar",
        "session": session,
        "user": session.principal.user if session else None,
        "can_operate": session is not None and can_operate(session),
        "can_admin": session is not None and can_admin(session),
        "csrf": session.csrf if session else values.get("csrf"),
        "path": request.url.path,
        "assets": dashboard_of(request).assets_dir is not None,
    }
    html = environment().get_template(template).render({**common, **values})
    return with_headers(HTMLResponse(html, status_code))  # type: ignore[return-value]


def render_fragment(template: str, values: Mapping[str, Any]) -> Markup:
    """A fragment that depends on `values` and the active language only (no session, no
    path): what a page cache may keep and share among principals who see the same."""
    return Markup(environment().get_template(template).render(values))


def view_scope(session: Session) -> tuple[str, ...]:
    """What a principal may see, as a cache key: its permissions (every reader sees every
    run today; a cache key must grow with any finer rule, such as namespaces)."""
    return tuple(sorted(permissions_of(session.principal)))


async def render_off_loop(
    request: Request,
    template: str,
    values: Mapping[str, Any],
    *,
    session: Session | None,
    status_code: int = 200,
) -> HTMLResponse:
    """`render` in a worker thread: the big pages (a 1,000-task run, its timeline) are
    rendered beside the event loop, which keeps serving the engine, writers and streams.

    The thread gets a copy of the request's context, so the page's language is the same.
    """
    return await asyncio.to_thread(
        render, request, template, values, session=session, status_code=status_code
    )


def can_operate(session: Session) -> bool:
    """Whether the user may start and control runs (RBAC: operator or admin)."""
    return Permission.OPERATE in permissions_of(session.principal)


def can_admin(session: Session) -> bool:
    """Whether the user may see the audit trail and manage users and tokens (admin)."""
    return Permission.ADMIN in permissions_of(session.principal)


class LoginRequiredError(Exception):
    """No valid session: pages redirect to the login page, fragments answer 401."""


async def current_session(request: Request) -> Session:
    """The request's session, or `LoginRequiredError`; also sets the page's language."""
    ctx = dashboard_of(request)
    visit = await ctx.sessions.visit(ctx.store, request.cookies.get(SESSION_COOKIE))
    session = visit.session
    if session is not None:
        mark_caller(request.scope, session.principal)  # the audit log's actor
    # The API's rule for every read: a principal without `read` sees nothing.
    if session is None or Permission.READ not in permissions_of(session.principal):
        page_language(request)
        raise LoginRequiredError
    page_language(request, visit.language)
    return session


SessionDep = Annotated[Session, Depends(current_session)]


def login_required_response(request: Request, _exc: Exception) -> Response:
    """Where a request without a session goes: htmx is told to load the login page."""
    if request.headers.get("hx-request"):
        return with_headers(Response(status_code=401, headers={"HX-Redirect": "/login"}))
    return with_headers(RedirectResponse("/login", status_code=303))


def csrf_ok(session: Session, posted: object) -> bool:
    """Whether a form carries this session's CSRF token."""
    return same(session.csrf, posted if isinstance(posted, str) else None)


def error_page(request: Request, session: Session | None, message: str, status: int) -> Response:
    """A refused action, explained in the page's language."""
    return render(request, "error.html", {"message": message}, session=session, status_code=status)


def forbidden_page(request: Request, session: Session, permission: str = "operate") -> Response:
    """403: the user's roles do not allow this action."""
    message = _("your token does not grant the '{permission}' permission", permission=permission)
    return error_page(request, session, message, 403)


def csrf_page(request: Request, session: Session | None) -> Response:
    """403: the form's CSRF token is missing or not this session's."""
    message = _("the form has expired; reload the page and try again")
    return error_page(request, session, message, 403)
