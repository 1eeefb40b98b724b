"""The run form in a real browser: typed params are checked before anything is sent."""

from __future__ import annotations

import re

import httpx
import pytest
from dashboard_e2e import login
from playwright.sync_api import BrowserContext, Page, Request, expect

pytestmark = pytest.mark.browser

TYPED = """
name: dash-typed
description: {en: Typed params, ar: معاملات بأنواع}
params:
  count: {type: integer, required: true}
  ratio: {type: number, default: 0.5}
  names: {type: array, default: [a]}
  extra: {type: object, default: {}}
tasks:
  - id: only
    run: echo ${{ params.count }}
"""


def _apply(client: httpx.Client) -> None:
    applied = client.post(
        "/api/v1/workflows", content=TYPED, headers={"Content-Type": "application/yaml"}
    )
    assert applied.status_code in (200, 201), applied.text


def _posts(page: Page) -> list[str]:
    sent: list[str] = []

    def seen(request: Request) -> None:
        if request.method == "POST":
            sent.append(request.url)

    page.on("request", seen)
    return sent


def test_wrong_params_are_shown_beside_their_fields_before_submit(
    context: BrowserContext, client: httpx.Client
) -> None:
    _apply(client)
    page = context.new_page()
    login(page)
    page.goto("/workflows/dash-typed")
    sent = _posts(page)
    page.fill("#param-ratio", "soon")
    page.fill("#param-names", "[1,")
    page.fill("#param-extra", "[]")
    page.click("#start-run")

    expect(page.locator("#param-count-error")).to_have_text("missing required parameter count")
    expect(page.locator("#param-ratio-error")).to_have_text("must be a number")
    expect(page.locator("#param-names-error")).to_have_text("must be a list")
    expect(page.locator("#param-extra-error")).to_have_text("must be a mapping of keys")
    expect(page.locator("#param-count")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#param-count")).to_be_focused()
    assert sent == [], "the form was sent with wrong values"
    expect(page).to_have_url(re.compile(r"/workflows/dash-typed$"))

    page.fill("#param-count", "2.5")
    page.click("#start-run")
    expect(page.locator("#param-count-error")).to_have_text("must be a whole number")
    page.fill("#param-count", "3")
    expect(page.locator("#param-count-error")).to_have_count(0)
    page.fill("#param-ratio", "1e-1")
    page.fill("#param-names", '["x", "y"]')
    page.fill("#param-extra", '{"k": 1}')
    expect(page.locator(".field .error")).to_have_count(0)
    assert sent == []

    page.click("#start-run")
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
    run_id = page.url.rsplit("/", 1)[1]
    params = client.get(f"/api/v1/runs/{run_id}").json()["params"]
    assert params == {"count": 3, "ratio": 0.1, "names": ["x", "y"], "extra": {"k": 1}}


def test_the_messages_beside_the_fields_are_in_arabic(
    context: BrowserContext, client: httpx.Client
) -> None:
    _apply(client)
    page = context.new_page()
    login(page)
    page.click("#lang-switch")
    try:
        expect(page.locator("html")).to_have_attribute("lang", "ar")
        page.goto("/workflows/dash-typed")
        sent = _posts(page)
        page.fill("#param-count", "three")
        page.click("#start-run")
        error = page.locator("#param-count-error")
        expect(error).to_be_visible()
        assert re.search(r"[\u0600-\u06FF]{3,}", error.inner_text())
        assert not re.search(r"[A-Za-z]{3,}", error.inner_text())
        assert sent == []
        # Arabic-Indic digits, as an Arabic keyboard types them, are numbers to the server.
        page.fill("#param-count", "٣")
        page.fill("#param-ratio", "٠.٥")
        page.click("#start-run")
        page.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
        run_id = page.url.rsplit("/", 1)[1]
        params = client.get(f"/api/v1/runs/{run_id}").json()["params"]
        assert (params["count"], params["ratio"]) == (3, 0.5)
    finally:
        page.click("#lang-switch")
        expect(page.locator("html")).to_have_attribute("lang", "en")


def test_pages_ask_for_nothing_the_server_lacks(context: BrowserContext) -> None:
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    login(page)
    for path in ("/", "/workflows", "/runs"):
        page.goto(path)
        page.wait_for_timeout(800)
    assert errors == []
