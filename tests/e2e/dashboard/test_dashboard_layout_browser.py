"""The layout in a real browser: a phone-wide window, left-to-right and right-to-left."""

from __future__ import annotations

import httpx
import pytest
from api_e2e import wait_status
from dashboard_e2e import login
from playwright.sync_api import BrowserContext, expect

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_no_page_is_wider_than_a_phone(
    context: BrowserContext, client: httpx.Client, lang: str
) -> None:
    run = client.post("/api/v1/workflows/dash-demo/runs", json={"params": {"pause": 0}}).json()
    wait_status(client, run["run_id"], {"succeeded"})
    page = context.new_page()
    page.set_viewport_size(PHONE)
    login(page)
    if lang == "ar":
        page.click("#lang-switch")
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
    try:
        paths = [a.get_attribute("href") or "" for a in page.locator("#menu a").all()]
        assert len(paths) >= 8
        wide = []
        for path in [*paths, "/workflows/dash-demo", f"/runs/{run['run_id']}"]:
            page.goto(path)
            page.wait_for_timeout(300)  # the charts size themselves after load
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > PHONE["width"]:
                wide.append(f"{path}: {width}px")
        assert wide == [], "pages wider than the window (the rest is cut off)"
    finally:
        if lang == "ar":
            page.click("#lang-switch")
            expect(page.locator("html")).to_have_attribute("lang", "en")
