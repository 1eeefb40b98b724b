"""Custom dashboards in a real browser: compose two panels, see them drawn, export, import,
find the dashboard after a reload, and the Arabic page."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from api_e2e import Server, make_server
from dashboard_e2e import WORKFLOWS, add_viewer, legend_colons, login, shot
from playwright.sync_api import BrowserContext, Page, expect

pytestmark = pytest.mark.browser

ARABIC = re.compile(r"[\u0600-\u06FF]{3,}")
WANTED = ("basir_http_request_duration_seconds_count", "basir_sse_clients")


@pytest.fixture(scope="module")
def dash_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server sampling the metric history every second, so panels have points at once."""
    server = make_server(
        tmp_path_factory.mktemp("boards-server"),
        "--load-examples",
        str(WORKFLOWS),
        BASIR_METRICS_INTERVAL_S="1",
    )
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, add_viewer(server.home)).result()
    server.start()
    yield server
    if server.process is not None and server.process.poll() is None:
        assert server.terminate() == 0
    assert "Traceback" not in server.output()
    assert "ERROR" not in server.output()


def _metrics(client: httpx.Client) -> list[str]:
    """Two metric names of the history (waiting for the sampler's first points)."""
    deadline = time.monotonic() + 20
    names: list[str] = []
    while time.monotonic() < deadline:
        names = client.get("/api/v1/metrics").json()["names"]
        chosen = [n for n in WANTED if n in names] + [n for n in names if n not in WANTED]
        if len(chosen) >= 2:
            return chosen[:2]
        time.sleep(0.5)
    raise AssertionError(f"the metric history has too few names: {names}")


def _fill_panel(
    page: Page, slot: int, metric: str, chart: str, en: str, ar: str, by: str = ""
) -> None:
    page.select_option(f"[id='p{slot}-metric']", metric)
    page.select_option(f"[id='p{slot}-chart']", chart)
    page.select_option(f"[id='p{slot}-window']", "15m")
    page.fill(f"[id='p{slot}-title_en']", en)
    page.fill(f"[id='p{slot}-title_ar']", ar)
    page.fill(f"[id='p{slot}-by']", by)


def _drawn(page: Page, count: int) -> None:
    """Every panel has its uPlot canvas."""
    expect(page.locator("figure.panel")).to_have_count(count)
    for i in range(count):
        expect(page.locator(f"#panel-{i} .uplot canvas")).to_have_count(1)


def test_compose_export_import_and_arabic(
    context: BrowserContext, client: httpx.Client, tmp_path: Path
) -> None:
    first, second = _metrics(client)
    page = context.new_page()
    login(page)
    page.click("#menu a[href='/dashboards']")
    expect(page.locator("h1")).to_have_text("Dashboards")
    page.fill("#new-name", "Team flow")
    page.click("#board-create-submit")
    expect(page).to_have_url(re.compile(r"/dashboards/d[0-9a-f]{16}$"))
    board_url = page.url
    by = "status" if first == WANTED[0] else ""
    _fill_panel(page, 0, first, "area", "HTTP requests", "طلبات HTTP", by)
    page.click("#board-save")
    _fill_panel(page, 1, second, "line", "Live pages", "الصفحات الحية")
    page.click("#board-save")
    _drawn(page, 2)
    expect(page.locator("#panel-0 figcaption")).to_contain_text("HTTP requests")

    # A bad step is refused beside its field and nothing changes.
    page.select_option("[id='p2-metric']", first)
    page.fill("[id='p2-step']", "1s")
    page.click("#board-save")
    expect(page.locator("[id='p2-step-error']")).to_be_visible()
    assert client.get("/api/v1/dashboards").json()["items"][0]["panels"].__len__() == 2

    page.goto(board_url)
    _drawn(page, 2)
    shot(page, "dashboards")
    with page.expect_download() as download:
        page.click("#board-export")
    saved = tmp_path / "board.json"
    download.value.save_as(saved)
    exported = json.loads(saved.read_text(encoding="utf-8"))
    assert exported["format"] == "basir-dashboard/1" and exported["name"] == "Team flow"
    assert [p["metric"] for p in exported["panels"]] == [first, second]

    page.goto("/dashboards")
    page.set_input_files("#import-file", str(saved))
    page.click("#board-import-submit")
    expect(page).to_have_url(re.compile(r"/dashboards/d[0-9a-f]{16}$"))
    assert page.url != board_url
    _drawn(page, 2)
    page.reload()
    _drawn(page, 2)
    page.goto("/dashboards")
    page.reload()
    expect(page.locator("#boards tbody tr")).to_have_count(2)

    page.goto(board_url)
    page.click("#lang-switch")
    try:
        html = page.locator("html")
        expect(html).to_have_attribute("dir", "rtl")
        expect(html).to_have_attribute("lang", "ar")
        expect(page.locator("#panel-1 figcaption")).to_contain_text("الصفحات الحية")
        assert ARABIC.search(page.locator("#board-edit").inner_text())
        _drawn(page, 2)
        # Metric names keep "name:" in the Arabic page; the Arabic time label "الوقت (UTC):".
        colons = legend_colons(page, "#panel-1 .u-legend")
        assert colons[0] == ("الوقت (UTC)", False) and colons[1:] == [("basir_sse_clients", True)]
        shot(page, "dashboards")
    finally:
        page.click("#lang-switch")
        expect(page.locator("html")).to_have_attribute("lang", "en")


def test_a_viewer_sees_shared_dashboards_but_cannot_change_them(
    context: BrowserContext, client: httpx.Client
) -> None:
    from dashboard_e2e import VIEWER, VIEWER_TOKEN

    _first, second = _metrics(client)
    body = {
        "name": "Shared ops",
        "visibility": "shared",
        "namespace": "ops",
        "panels": [{"metric": second, "chart": "stat", "window": "15m"}],
    }
    made = client.post("/api/v1/dashboards", json=body)
    assert made.status_code == 201, made.text
    page = context.new_page()
    login(page, VIEWER, VIEWER_TOKEN)
    page.goto("/dashboards")
    row = page.locator(f"#boards tr[data-board='{made.json()['id']}']")
    expect(row).to_contain_text("ops")
    row.locator("a").click()
    expect(page.locator("#panel-0 .stat")).to_have_count(1)
    expect(page.locator("#board-edit")).to_have_count(0)
    expect(page.locator("#new-visibility")).to_have_count(0)
