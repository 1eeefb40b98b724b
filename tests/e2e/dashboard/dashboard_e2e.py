"""Helpers of the browser suite: chromium flags, users, logging in, screenshots."""

from __future__ import annotations

from pathlib import Path

from api_e2e import ADMIN_TOKEN
from playwright.sync_api import Page, expect

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HERE = Path(__file__).parent
WORKFLOWS = HERE / "workflows"
SCREENSHOTS = HERE.parents[2] / "docs" / "screenshots"
VIEWER = "viewer"
VIEWER_TOKEN = "e2e-viewer-token-0123456789abcdef"


async def add_viewer(home: Path) -> None:
    """Create user `viewer` (role viewer) with a known token, in the server's store."""
    from basir.config import Settings
    from basir.security.tokens import create_user, issue_token
    from basir.store.factory import open_store

    store = open_store(Settings(home=home).db_url)
    await store.open()
    try:
        await create_user(store, VIEWER, ["viewer"])
        await issue_token(store, VIEWER, name="e2e", token=VIEWER_TOKEN)
    finally:
        await store.close()


def login(page: Page, user: str = "admin", token: str = ADMIN_TOKEN) -> None:
    """Log in through the form and land on the overview."""
    page.goto("/login")
    page.fill("#user", user)
    page.fill("#token", token)
    page.click("#login-submit")
    expect(page.locator("#logout")).to_be_visible()


def shot(page: Page, name: str) -> None:
    """Save a full-page screenshot as docs/screenshots/<name>-<lang>.png."""
    lang = page.locator("html").get_attribute("lang") or "en"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{lang}.png"), full_page=True)


def legend_colons(page: Page, legend: str) -> list[tuple[str, bool]]:
    """Each label of a uPlot legend and whether its colon sits on its right.

    The colon is drawn after the label's text, inside the label, in the label's own direction;
    it is found as the side of the label's box its text leaves free.
    """
    cells = page.locator(f"{legend} .u-series th").all()
    after = {c.evaluate("e => getComputedStyle(e, '::after').content") for c in cells}
    assert after <= {"none"}, "the cell draws a second colon"
    sides: list[tuple[str, float, float]] = page.evaluate(
        """(legend) => [...document.querySelectorAll(legend + " .u-series .u-label")]
          .map((label) => {
            const text = document.createRange();
            text.selectNodeContents(label);
            const letters = text.getBoundingClientRect(), box = label.getBoundingClientRect();
            return [label.textContent, letters.left - box.left, box.right - letters.right];
          })""",
        legend,
    )
    return [(name, right > left) for name, left, right in sides]
