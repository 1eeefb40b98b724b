"""The scheduler, resources, alerts, reports, audit and admin pages in a real browser."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from api_e2e import Server, make_server, wait_status
from dashboard_e2e import VIEWER, VIEWER_TOKEN, WORKFLOWS, add_viewer, login, shot
from playwright.sync_api import Browser, BrowserContext, Page, expect

pytestmark = pytest.mark.browser

ARABIC = re.compile(r"[\u0600-\u06FF]{3,}")
YAML = {"Content-Type": "application/yaml"}
NIGHTLY = """\
name: dash-nightly
description: {en: Fires at two in Riyadh, ar: يعمل في الثانية بتوقيت الرياض}
on:
  schedule:
    - {cron: "0 2 * * *", timezone: Asia/Riyadh}
tasks:
  - {id: a, run: "true"}
"""
BUILDS = """\
name: dash-builds
tasks:
  - {id: one, run: sleep 30, resources: {pools: {gradle: 1}}}
  - {id: two, run: sleep 30, resources: {pools: {gradle: 1}}}
"""
FAILING = """\
name: dash-fail
tasks:
  - {id: boom, run: "echo broken >&2; exit 3"}
"""
PAGES = ("/scheduler", "/resources", "/alerts", "/reports", "/audit", "/admin")


@pytest.fixture(scope="module")
def dash_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with one `gradle` slot, the demo workflows and a viewer user; it samples the
    metric history every second, so the pool chart has points at once."""
    server = make_server(
        tmp_path_factory.mktemp("ops-server"),
        "--load-examples",
        str(WORKFLOWS),
        BASIR_POOLS="gradle=1",
        BASIR_METRICS_INTERVAL_S="1",
    )
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, add_viewer(server.home)).result()
    server.start()
    with server.client() as client:
        for text in (NIGHTLY, BUILDS, FAILING):
            assert client.post("/api/v1/workflows", content=text, headers=YAML).status_code == 201
    yield server
    if server.process is not None and server.process.poll() is None:
        assert server.terminate() == 0
    assert "Traceback" not in server.output()
    assert "ERROR" not in server.output()


def _row(page: Page, table: str, key: str, value: str) -> object:
    return page.locator(f"#{table} tr[data-{key}='{value}']")


def test_schedules_pause_and_resume_with_next_fire_in_their_zone(
    context: BrowserContext, client: httpx.Client
) -> None:
    page = context.new_page()
    login(page)
    page.click("#menu a[href='/scheduler']")
    row = page.locator("#schedules tr[data-schedule='dash-nightly:0']")
    expect(row).to_contain_text("Asia/Riyadh")
    expect(row).to_contain_text("02:00 +03:00")
    expect(page.locator("#queue-waits tr[data-group='queue-default']")).to_be_visible()
    expect(page.locator("#ready-now")).to_have_text("0")
    shot(page, "scheduler")
    row.locator("button.sched-toggle").click()
    row = page.locator("#schedules tr[data-schedule='dash-nightly:0']")
    expect(row.locator(".sched-state")).to_contain_text("paused")
    items = client.get("/api/v1/schedules").json()["items"]
    assert [i["paused"] for i in items if i["id"] == "dash-nightly:0"] == [True]
    row.locator("button.sched-toggle").click()
    expect(
        page.locator("#schedules tr[data-schedule='dash-nightly:0'] .sched-state")
    ).to_contain_text("active")
    assert [i["paused"] for i in client.get("/api/v1/schedules").json()["items"]] == [False]

    page.goto("/audit")
    first = page.locator("#audit tbody tr").first
    expect(first).to_contain_text("resumed a schedule")
    expect(first.locator(".actor")).to_have_text("admin")
    shot(page, "audit")


def test_resources_show_holders_and_a_waiting_task_that_leaves_live(
    context: BrowserContext, client: httpx.Client
) -> None:
    run_id = client.post("/api/v1/workflows/dash-builds/runs", json={}).json()["run_id"]
    _until(lambda: "basir_pool_in_use" in client.get("/api/v1/metrics").json()["names"])
    page = context.new_page()
    login(page)
    page.goto("/resources")
    page.evaluate("window.basirNoReload = true")
    pool = page.locator("#pools tr[data-pool='gradle']")
    expect(pool.locator(".pool-in-use")).to_have_text("1")
    waiting = page.locator("#waiting tbody tr")
    expect(waiting).to_have_count(1)
    expect(waiting).to_contain_text("waiting for gradle: 1/1 in use by run")
    expect(page.locator("#pool-chart canvas")).to_have_count(1)
    expect(page.locator("#pool-chart")).to_contain_text("gradle")
    client.post(f"/api/v1/runs/{run_id}/cancel")
    wait_status(client, run_id, {"cancelled"})
    expect(page.locator("#waiting")).to_have_count(0)
    expect(pool.locator(".pool-in-use")).to_have_text("0")
    assert page.evaluate("window.basirNoReload") is True, "the page reloaded itself"


def _until(check: Callable[[], bool], timeout_s: float = 15) -> None:
    """Poll `check` until it holds (the server's own clock: sampling, alerting)."""
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _firing_alert(client: httpx.Client) -> dict[str, object]:
    run_id = client.post("/api/v1/workflows/dash-fail/runs", json={}).json()["run_id"]
    wait_status(client, run_id, {"failed"})
    for _try in range(100):
        items = client.get("/api/v1/alerts", params={"state": "firing"}).json()["items"]
        found = [i for i in items if i["run_id"] == run_id]
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError("no alert fired for the failed run")


def test_alerts_are_acknowledged_and_silenced(
    context: BrowserContext, client: httpx.Client
) -> None:
    page = context.new_page()
    login(page)
    page.goto("/alerts")
    page.evaluate("window.basirNoReload = true")
    alert = _firing_alert(client)
    # The page was open before the run failed: the alert appears without a reload.
    row = page.locator(f"#alerts-firing tr[data-alert='{alert['id']}']")
    expect(row).to_contain_text("dash-fail")
    assert page.evaluate("window.basirNoReload") is True, "the page reloaded itself"
    row.locator("button.ack").click()
    row = page.locator(f"#alerts-firing tr[data-alert='{alert['id']}']")
    expect(row.locator(".acked")).to_contain_text("by admin")
    row.locator("a.silence-like").click()
    expect(page.locator("#silence-rule")).to_have_value(str(alert["rule"]))
    page.click("#silence-submit")
    expect(page.locator("#silence-why-error")).to_be_visible()
    page.fill("#silence-why", "a known breakage")
    page.click("#silence-submit")
    expect(page.locator("#silences")).to_contain_text("a known breakage")
    silences = client.get("/api/v1/alerts/silences").json()["items"]
    assert [s["why"] for s in silences] == ["a known breakage"]
    shot(page, "alerts")


def test_report_of_a_window_with_exports(context: BrowserContext, client: httpx.Client) -> None:
    run = client.post("/api/v1/workflows/dash-demo/runs", json={"params": {"pause": 0}}).json()
    wait_status(client, run["run_id"], {"succeeded"})
    page = context.new_page()
    login(page)
    page.goto("/reports")
    page.fill("#r-since", "last week-ish")
    page.click("#report-submit")
    expect(page.locator("#r-since-error")).to_be_visible()
    page.fill("#r-since", "1h")
    page.click("#report-submit")
    expect(page.locator("#report tr[data-workflow='dash-demo']")).to_be_visible()
    with page.expect_download() as download:
        page.click("#export-csv")
    text = open(download.value.path(), encoding="utf-8").read()  # noqa: SIM115
    assert "dash-demo" in text
    shot(page, "reports")


def test_admin_issues_and_revokes_a_token_and_a_viewer_sees_no_admin(
    context: BrowserContext, browser: Browser, dash_server: Server
) -> None:
    page = context.new_page()
    login(page)
    page.goto("/admin")
    page.fill("#new-user", "Not Valid")
    page.click("#create-user")
    expect(page.locator("#name-error")).to_be_visible()
    page.fill("#new-user", "dana")
    page.select_option("#new-role", "viewer")
    page.click("#create-user")
    expect(page.locator("#users tr[data-user='dana']")).to_be_visible()
    page.select_option("#token-user", "dana")
    page.fill("#token-label", "laptop")
    page.click("#issue-token")
    token = page.locator("#new-token").inner_text()
    assert len(token) >= 40

    other = browser.new_context(base_url=dash_server.url, locale="en-US")
    try:
        dana = other.new_page()
        login(dana, "dana", token)
        expect(dana.locator("#menu a[href='/audit']")).to_have_count(0)
        expect(dana.locator("#menu a[href='/admin']")).to_have_count(0)
        assert dana.request.get("/admin").status == 403
        dana.goto("/scheduler")
        expect(dana.locator("#schedules")).to_be_visible()
        expect(dana.locator("button.sched-toggle")).to_have_count(0)

        page.goto("/admin")
        page.locator("#tokens tr[data-user='dana'][data-label='laptop'] button.revoke").click()
        expect(page.locator("#tokens tr[data-user='dana'] .token-state")).to_have_text("revoked")
        shot(page, "admin")
        dana.goto("/scheduler")
        expect(dana).to_have_url(re.compile(r"/login$"))
    finally:
        other.close()


def test_a_viewer_gets_no_forms(context: BrowserContext) -> None:
    page = context.new_page()
    login(page, VIEWER, VIEWER_TOKEN)
    page.goto("/alerts")
    expect(page.locator("#silence-form")).to_have_count(0)
    expect(page.locator("button.ack")).to_have_count(0)
    page.goto("/scheduler")
    expect(page.locator("button.sched-toggle")).to_have_count(0)


def test_every_page_in_arabic(context: BrowserContext) -> None:
    page = context.new_page()
    login(page)
    page.click("#lang-switch")
    try:
        for path in PAGES:
            page.goto(path)
            html = page.locator("html")
            expect(html).to_have_attribute("dir", "rtl")
            expect(html).to_have_attribute("lang", "ar")
            assert ARABIC.search(page.locator("main h1").first.inner_text()), path
            assert ARABIC.search(page.locator(f"#menu a[href='{path}']").inner_text()), path
            if path == "/reports":
                page.goto("/reports?since=1h")
            if path != "/resources":  # shot with every section by its own suite
                shot(page, path.strip("/"))
        page.goto("/scheduler")
        expect(page.locator("#schedules")).to_contain_text("+03:00")
    finally:
        page.click("#lang-switch")
        expect(page.locator("html")).to_have_attribute("lang", "en")
