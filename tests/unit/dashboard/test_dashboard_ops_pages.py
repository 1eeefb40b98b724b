"""The scheduler, resources, alerts, reports, audit and admin pages, in process, per role."""

from __future__ import annotations

import asyncio
import html
import re
import time
from pathlib import Path

import httpx
import pytest
from dashboard_helpers import Browser, csrf_of
from fastapi import FastAPI

from basir.config import Settings
from basir.coordinator.workflows import apply_workflow
from basir.dashboard.pool_chart import usage_percent
from basir.engine.runtime import Engine
from basir.monitoring.alert_manager import SILENCE_KIND
from basir.monitoring.snapshot import engine_state
from basir.security import tokens
from basir.spec.validate import load_workflow
from basir.store.memory import MemoryStore
from basir.store.records import AlertRecord, MetricPoint

SCHEDULED = """\
name: nightly
on:
  schedule:
    - {cron: "0 2 * * *", timezone: Asia/Riyadh}
tasks:
  - {id: a, uses: noop}
"""
TWO_BUILDS = """\
name: builds
tasks:
  - {id: one, uses: sleep, with: {seconds: 30}, resources: {pools: {gradle: 1}}}
  - {id: two, uses: sleep, with: {seconds: 30}, resources: {pools: {gradle: 1}}}
"""


@pytest.fixture
def settings(basir_home: Path) -> Settings:
    """One `gradle` slot, so a second build waits."""
    return Settings(home=basir_home, shutdown_grace_s=0.0, pools="gradle=1")


async def _post(client: httpx.AsyncClient, page_url: str, url: str, **form: str) -> httpx.Response:
    """Post a form of `page_url` with its CSRF token, as the browser would."""
    page = await client.get(page_url)
    return await client.post(url, data={"csrf": csrf_of(page.text), **form})


async def test_scheduler_shows_next_fire_in_its_zone_and_pauses_for_operators(
    browser: Browser, store: MemoryStore
) -> None:
    await apply_workflow(store, load_workflow(SCHEDULED), "tests")
    viewer = await browser("viewer")
    page = await viewer.get("/scheduler")
    assert page.status_code == 200
    assert 'data-schedule="nightly:0"' in page.text
    assert "Asia/Riyadh" in page.text and "02:00 +03:00" in page.text
    assert 'id="queue-waits"' in page.text and "sched-toggle" not in page.text
    assert 'id="ready-now">0<' in page.text and 'id="oldest-wait">-<' in page.text
    refused = await _post(viewer, "/scheduler", "/scheduler/nightly:0/pause")
    assert refused.status_code == 403

    operator = await browser("operator")
    assert "sched-toggle" in (await operator.get("/scheduler")).text
    assert (
        await operator.post("/scheduler/nightly:0/pause", data={"csrf": "x"})
    ).status_code == 403
    paused = await _post(operator, "/scheduler", "/scheduler/nightly:0/pause")
    assert paused.status_code == 303
    record = await store.get_schedule("nightly:0")
    assert record is not None and record.paused
    assert ">Resume<" in (await operator.get("/scheduler")).text
    missing = await _post(operator, "/scheduler", "/scheduler/nope:3/resume")
    assert missing.status_code == 404
    await _post(operator, "/scheduler", "/scheduler/nightly/resume")
    record = await store.get_schedule("nightly:0")
    assert record is not None and not record.paused

    assert (await viewer.get("/scheduler?window=2y")).status_code == 422
    live = await viewer.get("/scheduler?window=24h&part=live")
    assert live.text.lstrip().startswith('<div id="scheduler-live"') and "<html" not in live.text
    viewer.cookies.set("basir_lang", "ar")
    arabic = await viewer.get("/scheduler")
    assert 'dir="rtl"' in arabic.text and "المجدول" in arabic.text
    # The windows are words of the page's language, in the menu and the heading.
    options = re.findall(r'<option value="(\w+)"[^>]*>([^<]*)</option>', arabic.text)
    assert [value for value, _label in options] == ["15m", "1h", "6h", "24h", "7d"]
    assert all(re.fullmatch(r"[\d\u0600-\u06FF ]+", label) for _value, label in options)
    heading = re.search(r"<h2>([^<]*)</h2>", (await viewer.get("/scheduler?part=live")).text)
    assert heading is not None and "1h" not in heading.group(1)


async def test_resources_show_pools_holders_and_waiting_reasons(
    browser: Browser, store: MemoryStore, engine: Engine
) -> None:
    workflow, _new = await apply_workflow(store, load_workflow(TWO_BUILDS), "tests")
    with engine.bus.subscribe(lambda e: e.type == "task.started") as started:
        run_id = (await engine.submit(workflow)).id
        await asyncio.wait_for(started.get(), 10)
    client = await browser("viewer")
    page = await client.get("/resources")
    assert page.status_code == 200
    assert 'data-pool="gradle"' in page.text and 'value="100"' in page.text
    assert html.escape(f"waiting for gradle: 1/1 in use by run {run_id}") in page.text
    assert 'data-pool="memory"' in page.text and "GiB" in page.text
    live = await client.get("/resources?part=live")
    assert live.text.lstrip().startswith('<div id="resources-live"')
    client.cookies.set("basir_lang", "ar")  # the same reason, in the page's language
    arabic = (await client.get("/resources?part=live")).text
    assert html.escape(f"في انتظار gradle: 1/1 قيد الاستخدام لدى التشغيل {run_id}") in arabic
    assert "waiting for gradle" not in arabic
    # Built-in pools and sizes in Arabic (CLDR's short forms); a custom pool as written.
    for name in ("المعالج", "الذاكرة", "القرص", "غ.ب"):
        assert f">{name}<" in arabic or f" {name}<" in arabic, name
    assert not re.search(r"[GMK]iB|>cpu<|>memory<|>disk<", arabic)
    assert '<bdi dir="auto">gradle</bdi>' in arabic
    await engine.cancel_run(run_id, by="tests")


def test_pool_use_is_a_share_of_capacity_with_gaps() -> None:
    in_use = {"gradle": {60.0: 1.0, 120.0: 2.0}, "cpu": {60.0: 0.5}, "lost": {60.0: 1.0}}
    capacity = {"gradle": {60.0: 2.0, 120.0: 2.0}, "cpu": {60.0: 0.0, 120.0: 2.0}}
    assert usage_percent(in_use, capacity) == {
        "time": [60.0, 120.0],
        "pools": ["cpu", "gradle"],
        "values": [[None, None], [50.0, 100.0]],
    }


async def test_the_pool_chart_appears_once_the_history_has_pool_series(
    browser: Browser, store: MemoryStore, engine: Engine
) -> None:
    client = await browser("viewer")
    assert 'id="pool-chart"' not in (await client.get("/resources")).text
    snapshot = await engine_state(engine)()
    gradle = next(pool for pool in snapshot.pools if pool["name"] == "gradle")
    assert (gradle["capacity"], gradle["in_use"]) == (1, 0)
    now = time.time()
    minute = now - now % 60 - 60  # a whole minute ago: every point is in the past
    points = [
        MetricPoint("basir_pool_capacity", '{"pool":"gradle"}', 0, minute - 50, 1.0),
        MetricPoint("basir_pool_in_use", '{"pool":"gradle"}', 0, minute - 50, 1.0),
        MetricPoint("basir_pool_capacity", '{"pool":"gradle"}', 0, minute + 1, 1.0),
        MetricPoint("basir_pool_in_use", '{"pool":"gradle"}', 0, minute + 1, 0.0),
    ]
    await store.metrics_write(points)
    page = await client.get("/resources")
    assert 'id="pool-chart"' in page.text and "/static/app/pools.js" in page.text
    chart = (await client.get("/resources?part=chart")).json()
    assert (chart["time"], chart["pools"]) == ([minute - 60, minute], ["gradle"])
    assert chart["values"] == [[100.0, 0.0]] and chart["end"] - chart["start"] == 3600
    assert chart["labels"] == ["gradle"]  # a custom pool's legend keeps its name


def _alert(rule: str = "run_failed", run_id: str = "r1") -> AlertRecord:
    now = time.time()
    return AlertRecord(
        id=f"{rule}.{run_id}", rule=rule, state="firing", severity="error", workflow="demo",
        run_id=run_id, fired_at=now, updated_at=now, data={"error": "boom"},
    )  # fmt: skip


async def test_alerts_are_acknowledged_and_silenced_by_operators_only(
    browser: Browser, store: MemoryStore
) -> None:
    await store.alert_put(_alert())
    viewer = await browser("viewer")
    page = await viewer.get("/alerts")
    assert 'data-alert="run_failed.r1"' in page.text
    assert 'class="ack"' not in page.text and 'id="silence-form"' not in page.text
    assert (await _post(viewer, "/alerts", "/alerts/run_failed.r1/ack")).status_code == 403

    operator = await browser("operator")
    acked = await _post(operator, "/alerts", "/alerts/run_failed.r1/ack")
    assert acked.status_code == 303
    alert = await store.alert_get("run_failed.r1")
    assert alert is not None and alert.acked_by == "operator"
    assert "by operator" in (await operator.get("/alerts")).text
    live = await operator.get("/alerts?part=live")
    assert live.text.lstrip().startswith('<div id="alerts-live"') and "<html" not in live.text
    assert "by operator" in live.text and 'id="silence-form"' not in live.text
    forged = await operator.post("/alerts/silences", data={"csrf": "forged", "rule": "x"})
    assert forged.status_code == 403 and await store.kv_list(SILENCE_KIND) == []

    bad = await _post(operator, "/alerts", "/alerts/silences", **{"for": "99y", "why": ""})
    assert bad.status_code == 422
    for field in ("silence-rule-error", "silence-for-error", "silence-why-error"):
        assert f'id="{field}"' in bad.text
    prefilled = await operator.get("/alerts?rule=run_failed&workflow=demo")
    assert 'name="rule" value="run_failed"' in prefilled.text
    made = await _post(
        operator, "/alerts", "/alerts/silences",
        rule="run_failed", workflow="demo", **{"for": "2h", "why": "deploying"},
    )  # fmt: skip
    assert made.status_code == 303
    listing = await operator.get("/alerts")
    assert "rule=run_failed" in listing.text and "deploying" in listing.text
    assert (await _post(operator, "/alerts", "/alerts/nope.x/ack")).status_code == 404


async def test_reports_for_a_window_with_exports(browser: Browser, engine: Engine) -> None:
    demo = await engine.store.get_workflow("demo")
    assert demo is not None
    run_id = (await engine.submit(demo)).id
    assert (await engine.wait(run_id)).status == "succeeded"
    client = await browser("viewer")
    page = await client.get("/reports?since=1h")
    assert page.status_code == 200
    assert 'data-workflow="demo"' in page.text and 'data-task="demo/hello"' in page.text
    assert 'href="/reports/export?format=csv&amp;since=1h"' in page.text
    csv = await client.get("/reports/export?format=csv&since=1h")
    assert csv.status_code == 200 and "attachment" in csv.headers["content-disposition"]
    assert "demo" in csv.text
    data = (await client.get("/reports/export?format=json&since=1h")).json()
    assert data["workflows"][0]["workflow"] == "demo"
    bad = await client.get("/reports?since=yesterday-ish")
    assert bad.status_code == 422 and 'id="r-since-error"' in bad.text
    assert (await client.get("/reports/export?format=pdf")).status_code == 422
    assert 'data-workflow="demo"' not in (await client.get("/reports?since=1h&until=2h")).text


async def test_audit_shows_who_did_what_to_admins_only(
    browser: Browser, engine: Engine, app: FastAPI
) -> None:
    operator = await browser("operator")
    page = await operator.get("/workflows/demo")
    started = await operator.post("/workflows/demo/runs", data={"csrf": csrf_of(page.text)})
    run_id = started.headers["location"].rsplit("/", 1)[1]
    await engine.wait(run_id)
    assert 'href="/audit"' not in (await operator.get("/")).text
    assert (await operator.get("/audit")).status_code == 403
    admin = await browser("admin")
    assert 'href="/audit"' in (await admin.get("/")).text
    await app.state.basir.audit.drained()
    audit = await admin.get("/audit")
    assert audit.status_code == 200
    row = audit.text.split('data-action="POST /workflows/{name}/runs"')[1].split("</tr>")[0]
    assert ">operator<" in row and "started a run" in row and ">demo<" in row
    assert 'data-status="303"' in audit.text.split('data-action="POST /workflows/{name}')[1]
    login = audit.text.split('data-action="POST /login"')[1].split("</tr>")[0]
    assert ">admin<" in login and "logged in" in login
    first = int(audit.text.split('data-entry="')[1].split('"')[0])
    assert first >= 3  # two logins and a run, at least; newest first
    older = await admin.get(f"/audit?before={first}")
    assert older.status_code == 200 and f'data-entry="{first}"' not in older.text
    assert f'data-entry="{first - 1}"' in older.text


async def test_admin_creates_users_issues_and_revokes_tokens(
    browser: Browser, store: MemoryStore
) -> None:
    assert (await (await browser("operator")).get("/admin")).status_code == 403
    admin = await browser("admin")
    page = await admin.get("/admin")
    assert 'data-user="viewer"' in page.text
    forged = await admin.post(
        "/admin/users", data={"csrf": "forged", "name": "eve", "role": "admin"}
    )
    assert forged.status_code == 403 and await store.kv_get(tokens.USER_KIND, "eve") is None
    bad = await _post(admin, "/admin", "/admin/users", name="Bad Name!", role="root")
    assert bad.status_code == 422
    assert 'id="name-error"' in bad.text and 'id="role-error"' in bad.text
    made = await _post(admin, "/admin", "/admin/users", name="dana", role="operator")
    assert made.status_code == 303
    again = await _post(admin, "/admin", "/admin/users", name="dana", role="viewer")
    assert again.status_code == 422
    issued = await _post(admin, "/admin", "/admin/tokens", user="dana", label="laptop")
    assert issued.status_code == 201
    token = issued.text.split('id="new-token" dir="ltr">')[1].split("<")[0]
    principal = await tokens.lookup(store, token)
    assert principal is not None and principal.roles == frozenset({"operator"})
    digest = tokens.hash_token(token)
    revoked = await _post(admin, "/admin", f"/admin/tokens/{digest}/revoke")
    assert revoked.status_code == 303
    assert await tokens.lookup(store, token) is None
    nobody = await _post(admin, "/admin", "/admin/tokens", user="ghost", label="x")
    assert nobody.status_code == 422
    missing = await _post(admin, "/admin", f"/admin/tokens/{'0' * 64}/revoke")
    assert missing.status_code == 404
