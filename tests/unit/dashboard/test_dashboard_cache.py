"""The runs page's cache: a change shows on the next page, and no principal or language is
ever served another's page; the session cache: revocation, logout and disabling hold at once."""

from __future__ import annotations

import re
from typing import Any

from dashboard_helpers import Browser, csrf_of
from fastapi import FastAPI

from basir.dashboard.sessions import (
    SESSION_COOKIE,
    SessionCache,
    open_session,
    remember_language,
)
from basir.dashboard.web import view_scope
from basir.security import tokens
from basir.security.tokens import Principal
from basir.store.memory import MemoryStore

ROW = re.compile(r'<tr data-run="([^"]+)"')


def rows(html: str) -> list[str]:
    """The run ids of a runs table, in order."""
    return ROW.findall(html)


async def test_a_started_run_is_on_the_next_page_and_table(
    browser: Browser, app: FastAPI, role_tokens: dict[str, str]
) -> None:
    client = await browser("operator")
    before = await client.get("/runs")
    assert (await client.get("/runs")).text == before.text  # served from the cache
    api = {"Authorization": f"Bearer {role_tokens['operator']}"}
    started = await client.post("/api/v1/workflows/demo/runs", json={}, headers=api)
    assert started.status_code == 201
    run_id = started.json()["run_id"]
    assert run_id not in rows(before.text)
    assert rows((await client.get("/runs")).text)[0] == run_id
    assert rows((await client.get("/runs?part=table")).text)[0] == run_id
    listed = await client.get("/api/v1/runs", params={"limit": 5}, headers=api)
    assert listed.json()["items"][0]["run_id"] == run_id


async def test_a_workflow_applied_is_in_the_filter_at_once(
    browser: Browser, role_tokens: dict[str, str]
) -> None:
    client = await browser("admin")
    assert ">fresh</option>" not in (await client.get("/runs")).text
    answer = await client.post(
        "/api/v1/workflows",
        content="name: fresh\ntasks:\n  - {id: only, uses: noop}\n",
        headers={
            "Authorization": f"Bearer {role_tokens['admin']}",
            "Content-Type": "application/yaml",
        },
    )
    assert answer.status_code == 201
    assert ">fresh</option>" in (await client.get("/runs")).text


async def test_each_session_gets_its_own_layout_around_a_shared_table(
    browser: Browser,
) -> None:
    admin = await browser("admin")
    viewer = await browser("viewer")
    admin_page = (await admin.get("/runs")).text
    viewer_page = (await viewer.get("/runs")).text
    assert 'href="/admin"' in admin_page
    assert 'href="/admin"' not in viewer_page
    assert "Signed in as viewer" in viewer_page and "Signed in as admin" not in viewer_page
    viewer_csrf = csrf_of((await viewer.get("/")).text)
    assert csrf_of(viewer_page) == viewer_csrf != csrf_of(admin_page)
    assert viewer.cookies[SESSION_COOKIE] not in admin_page


async def test_each_language_gets_its_own_page(browser: Browser) -> None:
    english = await browser("viewer")
    arabic = await browser("viewer")
    english.cookies.set("basir_lang", "en")
    arabic.cookies.set("basir_lang", "ar")
    for _ in range(2):  # the second round is served from the cache
        arabic_page = (await arabic.get("/runs")).text
        english_page = (await english.get("/runs")).text
        assert '<html lang="ar" dir="rtl">' in arabic_page and "الحالة" in arabic_page
        assert '<html lang="en" dir="ltr">' in english_page and "الحالة" not in english_page
        assert 'aria-label="الصفحات"' in (await arabic.get("/runs?part=table")).text
        assert 'aria-label="Pages"' in (await english.get("/runs?part=table")).text


def test_the_scope_separates_roles() -> None:
    from basir.dashboard.sessions import Session

    def scope(*roles: str) -> tuple[str, ...]:
        return view_scope(Session("k", Principal("u", frozenset(roles)), "c"))

    assert scope("viewer") != scope("admin") != scope("operator")
    assert scope("viewer") == scope("viewer")
    assert scope() == ()


class CountingStore(MemoryStore):
    """A memory store that counts document reads."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def kv_get(self, kind: str, key: str) -> dict[str, Any] | None:
        self.reads += 1
        return await super().kv_get(kind, key)


async def test_sessions_are_read_once_until_a_document_they_depend_on_changes() -> None:
    store = CountingStore()
    await store.open()
    admin_token = await tokens.ensure_admin(store)
    assert admin_token is not None
    principal = await tokens.lookup(store, admin_token)
    assert principal is not None
    session_id = await open_session(store, principal, admin_token)
    cache = SessionCache(ttl_s=60)
    first = await cache.visit(store, session_id)
    assert first.session is not None and first.session.principal.user == "admin"
    reads = store.reads
    assert (await cache.visit(store, session_id)) == first
    await store.kv_put("unrelated", "k", {})  # another kind: still cached
    assert (await cache.visit(store, session_id)) == first
    assert store.reads == reads
    await remember_language(store, "admin", "ar")
    assert (await cache.visit(store, session_id)).language == "ar"
    assert store.reads > reads
    assert await tokens.revoke_token(store, tokens.hash_token(admin_token))
    assert (await cache.visit(store, session_id)).session is None
    assert (await cache.visit(store, "unknown")).session is None
    await store.close()


async def test_a_closed_session_and_a_disabled_user_are_refused_at_once(
    browser: Browser, app: FastAPI
) -> None:
    store = app.state.dashboard.store
    viewer = await browser("viewer")
    assert (await viewer.get("/runs")).status_code == 200
    user = await store.kv_get(tokens.USER_KIND, "viewer")
    await store.kv_put(tokens.USER_KIND, "viewer", {**user, "disabled": True})
    assert (await viewer.get("/runs")).status_code == 303
    admin = await browser("admin")
    page = await admin.get("/runs")
    assert page.status_code == 200
    cookie = admin.cookies[SESSION_COOKIE]
    await admin.post("/logout", data={"csrf": csrf_of(page.text)})
    admin.cookies.set(SESSION_COOKIE, cookie)
    assert (await admin.get("/runs")).status_code == 303


async def test_the_hot_path_answers_as_the_routes_do_and_refuses_as_they_do(
    browser: Browser, app: FastAPI, role_tokens: dict[str, str]
) -> None:
    client = await browser("admin")
    first, second = await client.get("/runs"), await client.get("/runs")  # route, then cache
    assert first.text == second.text
    for name in ("content-type", "content-security-policy", "content-language", "x-frame-options"):
        assert first.headers[name] == second.headers[name]
    admin = {"Authorization": f"Bearer {role_tokens['admin']}"}
    listed = [await client.get("/api/v1/runs?limit=5", headers=admin) for _ in range(2)]
    assert listed[0].content == listed[1].content
    assert listed[0].headers["content-type"] == listed[1].headers["content-type"]

    store = app.state.dashboard.store
    await store.kv_put("user", "nobody", {"name": "nobody", "roles": [], "disabled": False})
    nobody = {"Authorization": f"Bearer {await tokens.issue_token(store, 'nobody')}"}
    assert (await client.get("/api/v1/runs?limit=5", headers=nobody)).status_code == 403
    unknown = {"Authorization": "Bearer " + "x" * 43}
    refused = await client.get("/api/v1/runs?limit=5", headers=unknown)
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert (await client.get("/api/v1/runs?limit=5&bogus=1", headers=admin)).status_code == 422
    stranger = await browser(None)
    assert (await stranger.get("/runs")).status_code == 303
    assert (await stranger.get("/runs?part=table", headers={"HX-Request": "1"})).status_code == 401
