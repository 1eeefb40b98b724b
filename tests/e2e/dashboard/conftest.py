"""A real `basir server` with the dashboard, a viewer user, and headless Debian chromium.

The server and the browser are shared by the module, never longer: Playwright's sync API holds
an event loop on the thread while it runs, which async tests of other modules need.  Each
test gets a fresh browser context (its own cookies), so tests do not see each other's login.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from basir.dashboard.assets import find_node_modules

HERE = Path(__file__).parent
API_HELPERS = HERE.parent / "api"
for folder in (HERE, API_HELPERS):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from api_e2e import Server, make_server  # noqa: E402
from dashboard_e2e import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    VIEWER_TOKEN,
    WORKFLOWS,
    add_viewer,
)

# A machine without the browser or the front-end packages fails these tests, never skips them.
if not Path(CHROMIUM).exists():  # pragma: no cover - machine without chromium
    pytest.fail(f"{CHROMIUM} is missing: run `make deps-machine`", pytrace=False)
if find_node_modules() is None:  # pragma: no cover - front-end packages not installed
    pytest.fail("node_modules is missing: run `make assets` (needs npm)", pytrace=False)

from playwright.sync_api import Browser, BrowserContext, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def dash_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the browser suite, with the demo workflows and a viewer user."""
    server = make_server(tmp_path_factory.mktemp("dash-server"), "--load-examples", str(WORKFLOWS))
    # Its own thread: Playwright's sync API may already hold this thread's event loop.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, add_viewer(server.home)).result()
    server.start()
    yield server
    if server.process is not None and server.process.poll() is None:
        assert server.terminate() == 0
    # Pages closing their live streams (every navigation does) must not log errors.
    assert "Traceback" not in server.output()
    assert '"level": "error"' not in server.output()


@pytest.fixture
def client(dash_server: Server) -> Iterator[httpx.Client]:
    """The server's REST API with the admin token."""
    with dash_server.client() as made:
        yield made


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless /usr/bin/chromium (never a downloaded browser)."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Browser, dash_server: Server) -> Iterator[BrowserContext]:
    """A fresh browser profile (no cookies) pointed at the server, English by default."""
    made = browser.new_context(
        base_url=dash_server.url, locale="en-US", viewport={"width": 1280, "height": 860}
    )
    made.set_default_timeout(15_000)
    violations: list[str] = []
    made.on("console", lambda msg: _csp(violations, msg.text))
    yield made
    made.close()
    assert violations == [], "the pages broke their Content-Security-Policy"


def _csp(found: list[str], text: str) -> None:
    if "Content Security Policy" in text:
        found.append(text)


__all__ = ["VIEWER_TOKEN", "context"]
