"""The dashboard in a real browser: login, live run page, run controls, Arabic, roles."""

from __future__ import annotations

import re

import httpx
import pytest
from api_e2e import Server, wait_status
from dashboard_e2e import VIEWER, VIEWER_TOKEN, login, shot
from playwright.sync_api import Browser, BrowserContext, Page, expect

pytestmark = pytest.mark.browser

ARABIC = re.compile(r"[\u0600-\u06FF]{3,}")
MENU = ("/", "/workflows", "/runs")


def start_from_form(page: Page, workflow: str, **params: str) -> str:
    """Open a workflow's page, fill its form, start the run; returns the run id."""
    page.goto(f"/workflows/{workflow}")
    for name, value in params.items():
        page.fill(f"#param-{name}", value)
    page.click("#start-run")
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
    return page.url.rsplit("/", 1)[1]


def test_only_the_login_page_without_a_session(context: BrowserContext) -> None:
    page = context.new_page()
    for path in ("/", "/workflows/dash-demo", "/runs"):
        page.goto(path)
        expect(page).to_have_url(re.compile(r"/login$"))
        assert "dash-demo" not in page.content()
    response = page.request.get("/runs?part=table", headers={"HX-Request": "true"})
    assert response.status == 401
    assert "dash-demo" not in response.text()


def test_a_wrong_token_is_refused_and_logout_ends_the_session(
    context: BrowserContext, dash_server: Server
) -> None:
    page = context.new_page()
    page.goto("/login")
    page.fill("#user", "admin")
    page.fill("#token", "not-the-admin-token-at-all-0000")
    page.click("#login-submit")
    expect(page.locator("#login-error")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.fill("#user", VIEWER)
    page.fill("#token", dash_server.token)  # the admin's token is not the viewer's
    page.click("#login-submit")
    expect(page.locator("#login-error")).to_be_visible()

    login(page)
    expect(page.locator(".health li")).to_have_count(6)
    expect(page.locator(".health li.h-ok").first).to_contain_text("Store")
    page.click("#logout")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto("/runs")
    expect(page).to_have_url(re.compile(r"/login$"))


def test_a_run_started_from_the_form_turns_green_live(context: BrowserContext) -> None:
    page = context.new_page()
    login(page)
    page.goto("/workflows/dash-demo")
    page.fill("#param-pause", "soon")
    page.click("#start-run")
    expect(page.locator("#param-pause-error")).to_be_visible()
    expect(page.locator("#param-pause")).to_have_value("soon")

    run_id = start_from_form(page, "dash-demo", pause="2", greeting="salam")
    page.evaluate("window.basirNoReload = true")
    nodes = page.locator("#dag g.node")
    expect(nodes).to_have_count(4)
    # Not all green at first: the page is open while the run is still going.
    assert page.locator("#dag g.node[data-status=succeeded]").count() < 4
    expect(page.locator("#dag g.node[data-status=succeeded]")).to_have_count(4)
    expect(page.locator("#run-status")).to_contain_text("succeeded")
    expect(page.locator("#tasks tr[data-task=ship]")).to_contain_text("succeeded")
    # The timeline grew live too: one finished bar per task, the last one ship's.
    expect(page.locator("#timeline g.attempt.s-succeeded")).to_have_count(4)
    expect(page.locator('#timeline g.attempt[data-task="ship"]')).to_have_count(1)
    assert page.evaluate("window.basirNoReload") is True, "the page reloaded itself"

    page.click("#tasks tr[data-task=build] a")
    expect(page.locator("#log-panel pre")).to_contain_text("built")
    expect(page.locator("#tasks tr[data-task=start]")).to_contain_text("salam")
    assert page.url.endswith(f"/runs/{run_id}")


def test_pause_resume_and_cancel_from_the_run_page(
    context: BrowserContext, client: httpx.Client
) -> None:
    page = context.new_page()
    login(page)
    run_id = start_from_form(page, "dash-slow", pause="0.7")
    page.click("#pause")
    expect(page.locator("#run-status")).to_contain_text("paused")
    assert client.get(f"/api/v1/runs/{run_id}").json()["status"] == "paused"
    page.click("#resume")
    expect(page.locator("#run-status")).to_contain_text("succeeded", timeout=20_000)
    expect(page.locator("#dag g.node[data-status=succeeded]")).to_have_count(3)

    other = start_from_form(page, "dash-slow", pause="5")
    page.click("#cancel")
    expect(page.locator("#run-status")).to_contain_text("cancelled")
    wait_status(client, other, {"cancelled"})
    expect(page.locator("#retry")).to_be_visible()


def _check_arabic(page: Page) -> None:
    html = page.locator("html")
    expect(html).to_have_attribute("dir", "rtl")
    expect(html).to_have_attribute("lang", "ar")
    assert ARABIC.search(page.locator("#menu").inner_text())
    assert ARABIC.search(page.locator("main h1").first.inner_text())


def _screens(page: Page, run_id: str) -> None:
    for name, path in (
        ("overview", "/"),
        ("workflows", "/workflows"),
        ("workflow", "/workflows/dash-demo"),
        ("runs", "/runs"),
        ("run", f"/runs/{run_id}"),
    ):
        page.goto(path)
        if name == "overview":
            expect(page.locator("#throughput canvas")).to_have_count(1)
        if name == "run":
            expect(page.locator("#dag g.node[data-status=succeeded]")).to_have_count(4)
            expect(page.locator("#timeline g.attempt")).to_have_count(4)
        shot(page, name)


def test_arabic_on_every_page_and_remembered_for_the_user(
    context: BrowserContext, dash_server: Server, client: httpx.Client, browser: Browser
) -> None:
    run = client.post("/api/v1/workflows/dash-demo/runs", json={"params": {"pause": 0}}).json()
    wait_status(client, run["run_id"], {"succeeded"})
    page = context.new_page()
    page.goto("/login")
    shot(page, "login")
    page.click("#lang-switch")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    shot(page, "login")
    page.click("#lang-switch")
    login(page)
    _screens(page, run["run_id"])
    try:
        page.click("#lang-switch")
        for path in MENU:
            page.goto(path)
            _check_arabic(page)
        for link in page.locator("#menu a").all():
            link.click()
            _check_arabic(page)
        _screens(page, run["run_id"])
        assert ARABIC.search(page.locator("#dag").inner_text())

        fresh = browser.new_context(base_url=dash_server.url, locale="en-US")
        try:
            other = fresh.new_page()
            other.goto("/login")
            expect(other.locator("html")).to_have_attribute("lang", "en")
            login(other)
            _check_arabic(other)
        finally:
            fresh.close()
    finally:
        page.click("#lang-switch")
        expect(page.locator("html")).to_have_attribute("lang", "en")


def test_a_viewer_sees_no_controls_and_cannot_post_them(
    context: BrowserContext, client: httpx.Client
) -> None:
    run = client.post("/api/v1/workflows/dash-slow/runs", json={"params": {"pause": 5}}).json()
    page = context.new_page()
    login(page, VIEWER, VIEWER_TOKEN)
    page.goto(f"/runs/{run['run_id']}")
    expect(page.locator("#run-status")).to_be_visible()
    expect(page.locator("#controls")).to_have_count(0)
    page.goto("/workflows/dash-slow")
    expect(page.locator("#run-form")).to_have_count(0)
    csrf = page.locator("#logout").locator("xpath=..").locator("input[name=csrf]").input_value()
    refused = page.request.post(f"/runs/{run['run_id']}/cancel", form={"csrf": csrf})
    assert refused.status == 403
    started = page.request.post("/workflows/dash-slow/runs", form={"csrf": csrf})
    assert started.status == 403
    assert client.get(f"/api/v1/runs/{run['run_id']}").json()["status"] == "running"
    client.post(f"/api/v1/runs/{run['run_id']}/cancel")


def test_the_runs_list_updates_live(context: BrowserContext, client: httpx.Client) -> None:
    page = context.new_page()
    login(page)
    page.goto("/runs")
    page.evaluate("window.basirNoReload = true")
    run = client.post("/api/v1/workflows/dash-demo/runs", json={"params": {"pause": 0}}).json()
    row = page.locator(f"#runs tr[data-run='{run['run_id']}']")
    expect(row).to_contain_text("succeeded")
    assert page.evaluate("window.basirNoReload") is True, "the page reloaded itself"
