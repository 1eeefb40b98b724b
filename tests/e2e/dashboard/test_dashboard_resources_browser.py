"""The resources page's reservations timeline, quotas, recommendations and forecast, in a real
browser, in English and Arabic, from what a real server's store holds."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from api_e2e import Server, make_server, wait_status
from dashboard_e2e import (
    VIEWER,
    VIEWER_TOKEN,
    WORKFLOWS,
    add_viewer,
    legend_colons,
    login,
    shot,
)
from playwright.sync_api import BrowserContext, Page, expect

pytestmark = pytest.mark.browser

ARABIC = re.compile(r"[\u0600-\u06FF]{3,}")
YAML = {"Content-Type": "application/yaml"}
BUILDS = """\
name: dash-builds
tasks:
  - {id: one, run: sleep 60, resources: {pools: {gradle: 1}}}
  - {id: two, run: sleep 60, resources: {pools: {gradle: 1}}}
"""
GPU = '{"pool":"gpu"}'
HISTORY_MIN = 360  # six hours of per-minute history
SHOTS = Path("/tmp/dashlog")  # looked at by people, never committed


async def seed_history(home: Path, now: float) -> None:
    """Six hours of `gpu` history before the server starts: use rising from none to half of
    its 4 slots, and 50 minutes of tasks waiting for it (a recommendation and a forecast)."""
    from basir.config import Settings
    from basir.store.factory import open_store
    from basir.store.records import MetricPoint

    store = open_store(Settings(home=home).db_url)
    await store.open()
    minute = now - now % 60
    points = []
    for i in range(HISTORY_MIN):
        t = minute - (HISTORY_MIN - i) * 60
        used, waited = 2.0 * i / (HISTORY_MIN - 1), 3000.0 * i / HISTORY_MIN
        for resolution in (60, 0) if i >= HISTORY_MIN - 55 else (60,):
            points += [
                MetricPoint("basir_pool_capacity", GPU, resolution, t, 4.0),
                MetricPoint("basir_pool_in_use", GPU, resolution, t, used),
                MetricPoint("basir_pool_wait_seconds_total", GPU, resolution, t, waited),
            ]
    try:
        await store.metrics_write(points)
    finally:
        await store.close()


async def prepare(home: Path) -> None:
    await add_viewer(home)
    await seed_history(home, time.time())


@pytest.fixture(scope="module")
def dash_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with one `gradle` slot and four `gpu` ones, six hours of `gpu` history, a
    viewer, and history sampled every second (the pool chart has points at once)."""
    server = make_server(
        tmp_path_factory.mktemp("resources-server"),
        "--load-examples",
        str(WORKFLOWS),
        BASIR_POOLS="gradle=1,gpu=4",
        BASIR_METRICS_INTERVAL_S="1",
    )
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, prepare(server.home)).result()
    server.start()
    with server.client() as client:
        assert client.post("/api/v1/workflows", content=BUILDS, headers=YAML).status_code == 201
    yield server
    if server.process is not None and server.process.poll() is None:
        assert server.terminate() == 0
    assert "Traceback" not in server.output()
    assert "ERROR" not in server.output()


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat()


def _nightly(client: httpx.Client) -> str:
    """A reservation of one gpu for workflow dash-release, 02:00-04:00 in Riyadh each night."""
    made = client.post(
        "/api/v1/resources/reservations",
        json={"pool": "gpu", "amount": 1, "workflow": "dash-release", "cron": "0 2 * * *",
              "duration": "2h", "timezone": "Asia/Riyadh"},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def _nightly_windows(now: float) -> int:
    """How many 02:00-04:00 Riyadh (23:00-01:00 UTC) windows the 48 h timeline shows: 2, or
    3 when the page is opened between 23:00 and 01:00 UTC (one of them in force)."""
    start = now - now % 3600
    end = start + 48 * 3600
    midnight = start - start % 86400
    opens = [midnight + day * 86400 - 3600 for day in range(-1, 4)]
    return sum(1 for lo in opens if lo < end and lo + 2 * 3600 > start)


def _reserve(client: httpx.Client) -> tuple[str, str]:
    """A reservation in force now (gpu 2 for namespace mobile), and a nightly one."""
    now = time.time()
    once = client.post(
        "/api/v1/resources/reservations",
        json={"pool": "gpu", "amount": 2, "namespace": "mobile",
              "from": _iso(now - 600), "to": _iso(now + 3 * 3600)},
    )  # fmt: skip
    assert once.status_code == 201, once.text
    return once.json()["id"], _nightly(client)


def _sections(page: Page, once: str, nightly: str) -> None:
    """Every section shows what the store holds, in whatever language the page is."""
    row = page.locator(f"#reservations tr[data-reservation='{once}']")
    expect(row.locator(".tl-bar.active")).to_have_count(1)
    expect(row).to_contain_text("mobile")
    bars = page.locator(f"#reservations tr[data-reservation='{nightly}'] .tl-bar")
    expect(bars).to_have_count(_nightly_windows(time.time()))
    quota = page.locator("#quotas tr[data-namespace='default']")
    expect(quota.locator(".quota-tasks meter")).to_have_attribute("value", "25")
    expect(page.locator("#advice li[data-kind='raise_pool'][data-pool='gpu']")).to_have_count(1)
    expect(page.locator("#forecast tr[data-pool='gpu'] .saturates time")).to_have_count(1)


def _legend_in_arabic(page: Page) -> None:
    """Built-in pools by their Arabic names, custom ones as written; each label isolated, so
    an English name keeps its letters together and the colon after it in reading order."""
    labels = page.locator("#pool-chart .u-legend .u-series .u-label")
    expect(labels.nth(1)).to_have_text("المعالج")
    texts = labels.all_inner_texts()
    assert "gpu" in texts and "الذاكرة" in texts and "cpu" not in texts, texts
    for i in range(1, labels.count()):
        bidi = labels.nth(i).evaluate("e => getComputedStyle(e).unicodeBidi")
        assert bidi == "plaintext", bidi
    # The colon follows each label in the label's own direction: right of "gpu", left of
    # "الذاكرة" (as "gpu: 3" and "الذاكرة: 3" read).
    for name, colon_right in legend_colons(page, "#pool-chart .u-legend")[1:]:
        assert colon_right == name.isascii(), name
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#pool-chart .u-legend").screenshot(path=str(SHOTS / "pool-legend-ar.png"))


def test_reservations_quotas_advice_and_forecast_in_english_and_arabic(
    context: BrowserContext, client: httpx.Client
) -> None:
    once, nightly = _reserve(client)
    quota = client.put("/api/v1/resources/quotas/default", json={"tasks": 4, "policy": "queue"})
    assert quota.status_code == 200, quota.text
    run_id = client.post("/api/v1/workflows/dash-builds/runs", json={}).json()["run_id"]
    page = context.new_page()
    login(page)
    page.goto("/resources")
    page.evaluate("window.basirNoReload = true")
    expect(page.locator("#waiting tbody tr")).to_have_count(1)
    _sections(page, once, nightly)
    expect(page.locator("#quotas tr[data-namespace='default'] .quota-tasks")).to_contain_text(
        "1 of 4"
    )
    advice = page.locator("#advice li[data-pool='gpu']")
    expect(advice).to_contain_text("raise pool gpu from 4 to 5: tasks waited")
    expect(page.locator("#pool-chart canvas")).to_have_count(1)
    shot(page, "resources")

    page.click("#lang-switch")
    try:
        html = page.locator("html")
        expect(html).to_have_attribute("dir", "rtl")
        expect(html).to_have_attribute("lang", "ar")
        _sections(page, once, nightly)
        for section in ("#reservations-section", "#quotas-section", "#advice-section"):
            assert ARABIC.search(page.locator(f"{section} h2").inner_text()), section
        assert ARABIC.search(page.locator("#forecast-section h2").inner_text())
        assert ARABIC.search(advice.inner_text()), "the advice is not in Arabic"
        expect(page.locator("#pool-chart canvas")).to_have_count(1)
        _legend_in_arabic(page)
        shot(page, "resources")
    finally:
        page.click("#lang-switch")
        expect(page.locator("html")).to_have_attribute("lang", "en")

    # Quota use follows the tasks live: the run ends, the page follows without a reload.
    page.evaluate("window.basirNoReload = true")
    client.post(f"/api/v1/runs/{run_id}/cancel")
    wait_status(client, run_id, {"cancelled"})
    expect(page.locator("#quotas tr[data-namespace='default'] .quota-tasks")).to_contain_text(
        "0 of 4"
    )
    expect(page.locator("#waiting")).to_have_count(0)
    assert page.evaluate("window.basirNoReload") is True, "the page reloaded itself"


def test_an_admin_deletes_a_reservation_and_sets_a_quota_a_viewer_cannot(
    context: BrowserContext, client: httpx.Client
) -> None:
    nightly = _nightly(client)
    viewer = context.new_page()
    login(viewer, VIEWER, VIEWER_TOKEN)
    viewer.goto("/resources")
    expect(viewer.locator(f"#reservations tr[data-reservation='{nightly}']")).to_be_visible()
    expect(viewer.locator("button.rsv-delete")).to_have_count(0)
    expect(viewer.locator("#quota-form")).to_have_count(0)
    viewer.context.clear_cookies()

    page = context.new_page()
    login(page)
    page.goto("/resources")
    page.locator(f"#reservations tr[data-reservation='{nightly}'] button.rsv-delete").click()
    expect(page.locator(f"#reservations tr[data-reservation='{nightly}']")).to_have_count(0)
    ids = [r["id"] for r in client.get("/api/v1/resources/reservations").json()]
    assert nightly not in ids

    start = time.time() + 3600
    start -= start % 3600
    page.click("#reserve-toggle")
    page.select_option("#rsv-pool", "gpu")
    page.select_option("#rsv-holder_kind", "workflow")
    page.fill("#rsv-holder", "dash-gpu")
    page.fill("#rsv-amount", "1")
    page.fill("#rsv-from", datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#rsv-to", datetime.fromtimestamp(start + 7200, UTC).strftime("%Y-%m-%dT%H:%M"))
    page.click("#reserve-submit")
    row = page.locator("#reservations tr", has_text="dash-gpu")
    expect(row.locator(".tl-bar")).to_have_count(1)
    listed = client.get("/api/v1/resources/reservations").json()
    made = [r for r in listed if r.get("workflow") == "dash-gpu"]
    assert [(r["amount"], r["created_by"], r["from"][:16]) for r in made] == [
        (1, "admin", datetime.fromtimestamp(start, UTC).isoformat()[:16])
    ]
    expect(row).to_have_attribute("data-reservation", made[0]["id"])

    page.click("#quota-toggle")
    page.fill("#quota-namespace", "ml")
    page.fill("#quota-tasks", "two")
    page.click("#quota-submit")
    expect(page.locator("#quota-tasks-error")).to_be_visible()
    page.fill("#quota-tasks", "2")
    page.fill("#quota-memory", "4Gi")
    page.select_option("#quota-policy", "refuse")
    page.click("#quota-submit")
    row = page.locator("#quotas tr[data-namespace='ml']")
    expect(row.locator(".quota-tasks")).to_contain_text("0 of 2")
    expect(row.locator(".quota-memory")).to_contain_text("4 GiB")
    expect(row.locator(".quota-policy")).to_contain_text("refuse")
    shown = client.get("/api/v1/resources/quotas/ml").json()
    assert (shown["tasks"], shown["memory"], shown["policy"]) == (2, 4 << 30, "refuse")
