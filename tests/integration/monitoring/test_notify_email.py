"""Alert notifications by email through apprise, to a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage

from monitoring_helpers import Mailbox, Served

from basir.api.app import context_of

TOGGLE_YAML = """\
name: toggle
params:
  code: {type: string, default: "0"}
tasks:
  - id: work
    run: "exit ${{ params.code }}"
"""


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain", "html"))
    assert body is not None
    return str(body.get_content())


async def test_an_alert_email_reaches_the_smtp_server_silence_holds_resolution_is_mailed(
    served: Served, mailbox: Mailbox
) -> None:
    route = {"name": "mail", "kind": "apprise", "url": mailbox.url(), "lang": "ar"}
    created = await served.client.post("/api/v1/notifications/routes", json=route)
    assert created.status_code == 201, created.text
    assert created.json()["url"] == f"mailto://127.0.0.1:{mailbox.port}/…"  # nothing secret
    manager = context_of(served.app).alerts
    assert manager.notifier is not None
    manager.notifier.first_retry_s = 0.01
    await manager.start()
    try:
        failed = await served.run(TOGGLE_YAML, params={"code": "5"})
        fired = await mailbox.next()
        assert fired["To"] == "ops@example.com"
        assert fired["Subject"] == "[بصير: تنبيه نشط] خطأ run_failed"  # the route is Arabic
        assert "فشل" in text_of(fired) and str(failed["run_id"]) in text_of(fired)

        silence = {"matchers": {"workflow": "toggle"}, "for": "1h", "why": "on it"}
        assert (await served.client.post("/api/v1/alerts/silences", json=silence)).is_success
        await served.run(TOGGLE_YAML, params={"code": "6"})  # silenced: no email
        await served.run(TOGGLE_YAML)  # recovers: both alerts resolve, both mailed
        resolved = [await mailbox.next(), await mailbox.next()]
        assert all(m["Subject"] == "[بصير: زال التنبيه] خطأ run_failed" for m in resolved)
        await asyncio.sleep(0.2)
        assert mailbox.got.empty()  # exactly three emails: fired, resolved twice
        delivered = await served.client.get(
            "/api/v1/events/history", params={"type": "notification.delivered"}
        )
        assert len(delivered.json()["items"]) == 3
    finally:
        await manager.stop()


async def test_apprise_routes_are_checked_when_saved(served: Served) -> None:
    unknown = {"name": "x", "kind": "apprise", "url": "nosuchservice://host/"}
    response = await served.client.post("/api/v1/notifications/routes", json=unknown)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.url"
    signed = {"name": "x", "kind": "apprise", "url": "json://127.0.0.1/", "secret": "s" * 20}
    response = await served.client.post("/api/v1/notifications/routes", json=signed)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.secret"
    unsigned = {"name": "x", "url": "http://127.0.0.1/hook"}
    response = await served.client.post(
        "/api/v1/notifications/routes", json=unsigned, headers={"Accept-Language": "ar"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.secret"
    assert (await served.client.get("/api/v1/notifications/routes")).json()["items"] == []
