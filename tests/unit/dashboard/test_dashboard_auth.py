"""Login, sessions, CSRF, security headers and the language switch."""

from __future__ import annotations

import httpx
from dashboard_helpers import Browser, csrf_of

from basir.dashboard.sessions import LANG_COOKIE, SESSION_COOKIE


async def test_without_a_session_every_page_goes_to_login(browser: Browser) -> None:
    client = await browser(None)
    for path in ("/", "/workflows", "/workflows/demo", "/runs", "/runs/x1", "/live"):
        answer = await client.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"] == "/login"
        assert "demo" not in answer.text
    fragment = await client.get("/runs?part=table", headers={"HX-Request": "true"})
    assert fragment.status_code == 401
    assert fragment.headers["HX-Redirect"] == "/login"


async def test_pages_carry_the_security_headers(browser: Browser) -> None:
    client = await browser(None)
    answer = await client.get("/login")
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert "<script>" not in answer.text  # no inline script


async def test_a_wrong_token_or_user_is_refused(
    browser: Browser, role_tokens: dict[str, str]
) -> None:
    client = await browser(None)
    csrf = csrf_of((await client.get("/login")).text)
    for user, token in (
        ("admin", "wrong-token-wrong-token-wrong"),
        ("viewer", role_tokens["admin"]),
        ("admin", "not a token!"),
    ):
        answer = await client.post("/login", data={"csrf": csrf, "user": user, "token": token})
        assert answer.status_code == 401
        assert "unknown user name or token" in answer.text
        assert SESSION_COOKIE not in client.cookies


async def test_login_needs_the_form_csrf_token(
    browser: Browser, role_tokens: dict[str, str]
) -> None:
    client = await browser(None)
    await client.get("/login")
    form = {"csrf": "forged", "user": "admin", "token": role_tokens["admin"]}
    answer = await client.post("/login", data=form)
    assert answer.status_code == 403
    assert SESSION_COOKIE not in client.cookies


async def test_the_session_cookie_is_httponly_strict_and_secure_over_tls(
    browser: Browser, role_tokens: dict[str, str]
) -> None:
    for base, secure in (("http://test", False), ("https://test", True)):
        client = await browser(None, base_url=base)
        csrf = csrf_of((await client.get("/login")).text)
        form = {"csrf": csrf, "user": "admin", "token": role_tokens["admin"]}
        answer = await client.post("/login", data=form)
        cookie = next(
            c for c in answer.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)
        )
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        assert ("Secure" in cookie) is secure


async def test_logout_ends_the_session_and_needs_csrf(browser: Browser) -> None:
    client = await browser("admin")
    page = await client.get("/")
    assert page.status_code == 200
    refused = await client.post("/logout", data={"csrf": "nope"})
    assert refused.status_code == 403
    session_id = client.cookies[SESSION_COOKIE]
    answer = await client.post("/logout", data={"csrf": csrf_of(page.text)})
    assert answer.status_code == 303
    client.cookies.set(SESSION_COOKIE, session_id)  # the old cookie, replayed
    again = await client.get("/")
    assert again.status_code == 303


async def test_a_revoked_token_ends_its_sessions(
    browser: Browser, app: object, role_tokens: dict[str, str]
) -> None:
    from basir.security.tokens import hash_token, revoke_token

    client = await browser("viewer")
    assert (await client.get("/")).status_code == 200
    store = app.state.dashboard.store  # type: ignore[attr-defined]
    await revoke_token(store, hash_token(role_tokens["viewer"]))
    assert (await client.get("/")).status_code == 303


async def test_the_language_is_remembered_for_the_user(browser: Browser) -> None:
    client = await browser("operator")
    page = await client.get("/runs")
    assert '<html lang="en" dir="ltr">' in page.text
    answer = await client.post(
        "/language", data={"csrf": csrf_of(page.text), "lang": "ar", "next": "/runs"}
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/runs"
    arabic = await client.get("/runs")
    assert '<html lang="ar" dir="rtl">' in arabic.text
    assert "عمليات التشغيل" in arabic.text

    elsewhere = await browser("operator")  # a new browser: no language cookie yet
    assert elsewhere.cookies.get(LANG_COOKIE) == "ar"
    assert '<html lang="ar" dir="rtl">' in (await elsewhere.get("/")).text


async def test_the_language_switch_refuses_a_foreign_target_and_forged_forms(
    browser: Browser,
) -> None:
    client = await browser("viewer")
    page = await client.get("/")
    csrf = csrf_of(page.text)
    answer = await client.post(
        "/language", data={"csrf": csrf, "lang": "ar", "next": "//evil.example/x"}
    )
    assert answer.headers["location"] == "/"
    forged = await client.post("/language", data={"csrf": "x", "lang": "ar"})
    assert forged.status_code == 403
    anonymous = await browser(None)
    login = await anonymous.get("/login")
    switched = await anonymous.post(
        "/language", data={"csrf": csrf_of(login.text), "lang": "ar", "next": "/runs"}
    )
    assert switched.headers["location"] == "/login"
    assert 'dir="rtl"' in (await anonymous.get("/login")).text


async def test_static_files_of_our_own_and_unknown_ones(browser: Browser) -> None:
    client: httpx.AsyncClient = await browser(None)
    css = await client.get("/static/app/app.css")
    assert css.status_code == 200
    assert css.headers["x-content-type-options"] == "nosniff"
    assert "inset-inline-start" in css.text
    for path in ("/static/app/../web.py", "/static/app/nope.js", "/static/vendor/nope.js"):
        assert (await client.get(path)).status_code == 404


async def test_a_user_without_the_read_permission_sees_nothing(
    browser: Browser, app: object
) -> None:
    from basir.security.tokens import issue_token

    store = app.state.dashboard.store  # type: ignore[attr-defined]
    await store.kv_put("user", "nobody", {"name": "nobody", "roles": [], "disabled": False})
    token = await issue_token(store, "nobody")
    client = await browser(None)
    csrf = csrf_of((await client.get("/login")).text)
    await client.post("/login", data={"csrf": csrf, "user": "nobody", "token": token})
    assert (await client.get("/runs")).status_code == 303
