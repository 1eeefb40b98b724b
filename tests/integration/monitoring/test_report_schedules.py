"""Scheduled performance reports: sent by email (real SMTP server) when due, once per fire."""

from __future__ import annotations

import time

from monitoring_helpers import Mailbox, Served

from basir.api.app import context_of

OK_YAML = """\
name: nightly-build
tasks:
  - id: compile
    run: "true"
"""


async def test_a_due_report_is_mailed_once_in_the_routes_language(
    served: Served, mailbox: Mailbox
) -> None:
    route = {"name": "mail", "kind": "apprise", "url": mailbox.url(), "lang": "ar"}
    assert (await served.client.post("/api/v1/notifications/routes", json=route)).is_success
    scheduler = context_of(served.app).report_schedules
    assert scheduler is not None
    start = time.time() // 300 * 300 + 1  # just after a fire of */5
    scheduler.clock = lambda: start
    schedule = {"name": "weekly", "cron": "*/5 * * * *", "timezone": "Asia/Riyadh", "route": "mail"}
    created = await served.client.post("/api/v1/reports/schedules", json=schedule)
    assert created.status_code == 201, created.text
    assert created.json()["window"] == "7d"
    await served.run(OK_YAML)
    scheduler.clock = lambda: start + 200
    assert await scheduler.tick() == []  # not due yet: the next fire is ahead
    scheduler.clock = lambda: start + 400  # past the next fire
    (delivered,) = await scheduler.tick()
    assert delivered.type == "notification.delivered"
    mail = await mailbox.next()
    assert "report.ready weekly" in mail["Subject"]
    body = mail.get_body(preferencelist=("plain", "html"))
    assert body is not None
    text = str(body.get_content())
    assert "تقرير الأداء" in text and "nightly-build" in text  # in the route's language
    assert await scheduler.tick() == []  # once per fire
    listed = await served.client.get("/api/v1/reports/schedules")
    assert [s["name"] for s in listed.json()["items"]] == ["weekly"]
    assert (await served.client.delete("/api/v1/reports/schedules/weekly")).status_code == 204
    missing = await served.client.delete("/api/v1/reports/schedules/weekly")
    assert missing.json()["code"] == "report_schedule.not_found"


async def test_bad_schedules_are_refused_and_change_nothing(served: Served) -> None:
    bad = {"name": "x", "cron": "99 * * * *", "timezone": "Mars/Base", "window": "0s", "route": "r"}
    refused = await served.client.post(
        "/api/v1/reports/schedules", json=bad, headers={"Accept-Language": "ar"}
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "report_schedule.invalid"
    fields = {e["field"] for e in refused.json()["errors"]}
    assert fields == {"body.cron", "body.timezone", "body.window"}
    no_route = {"name": "x", "cron": "@daily", "route": "nowhere"}
    refused = await served.client.post("/api/v1/reports/schedules", json=no_route)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "body.route"
    unknown = {"name": "x", "cron": "@daily", "route": "nowhere", "format": "pdf"}
    refused = await served.client.post("/api/v1/reports/schedules", json=unknown)
    assert refused.json()["errors"][0]["field"] == "body.format"
    assert (await served.client.get("/api/v1/reports/schedules")).json()["items"] == []
