"""Alert notifications to a real local HTTP receiver: signed, localised, retried, recorded."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import uvicorn
from monitoring_helpers import Served
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route as HttpRoute

from basir.api.app import context_of
from basir.monitoring.alert_manager import AlertManager

SECRET = "a-shared-secret-of-some-length"
TOGGLE_YAML = """\
name: toggle
params:
  code: {type: string, default: "0"}
tasks:
  - id: work
    run: "exit ${{ params.code }}"
"""


@dataclass
class Receiver:
    """A local HTTP server that keeps what it receives and answers `status`."""

    url: str
    got: asyncio.Queue[tuple[dict[str, str], bytes]] = field(default_factory=asyncio.Queue)
    status: int = 200
    hits: int = 0


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A real webhook receiver on 127.0.0.1, served by uvicorn on this loop."""
    port = free_port()
    found = Receiver(f"http://127.0.0.1:{port}/hook")

    async def hook(request: Request) -> Response:
        found.hits += 1
        await found.got.put((dict(request.headers), await request.body()))
        return Response(status_code=found.status)

    app = Starlette(routes=[HttpRoute("/hook", hook, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield found
    server.should_exit = True
    await serving


async def next_delivery(receiver: Receiver) -> tuple[dict[str, str], dict[str, object]]:
    """The next request the receiver got, with its JSON body; its signature checked."""
    headers, body = await asyncio.wait_for(receiver.got.get(), 10)
    expected = hmac.new(
        SECRET.encode(), headers["x-basir-timestamp"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert headers["x-basir-signature"] == f"sha256={expected}"
    return headers, json.loads(body)


async def notification_events(served: Served) -> list[str]:
    """Types of the `notification.*` events so far."""
    found = []
    for kind in ("notification.delivered", "notification.failed", "notification.dropped"):
        page = await served.client.get("/api/v1/events/history", params={"type": kind})
        found += [(int(e["id"]), e["type"]) for e in page.json()["items"]]
    return [kind for _id, kind in sorted(found)]


async def wait_events(served: Served, count: int) -> list[str]:
    """The notification events once there are `count` of them."""
    for _ in range(1000):
        found = await notification_events(served)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.01)
    raise AssertionError(f"fewer than {count} notification events")


async def started(served: Served) -> AlertManager:
    manager = context_of(served.app).alerts
    assert manager.notifier is not None
    manager.notifier.first_retry_s = 0.01
    await manager.start()
    return manager


async def test_firing_and_resolution_reach_the_webhook_signed_in_arabic(
    served: Served, receiver: Receiver
) -> None:
    route = {"name": "ops", "url": receiver.url, "secret": SECRET, "lang": "ar"}
    created = await served.client.post("/api/v1/notifications/routes", json=route)
    assert created.status_code == 201, created.text
    assert "secret" not in created.json()
    listed = (await served.client.get("/api/v1/notifications/routes")).json()["items"]
    assert listed == [created.json()]
    manager = await started(served)
    try:
        failed = await served.run(TOGGLE_YAML, params={"code": "5"})
        headers, body = await next_delivery(receiver)
        assert headers["x-basir-event"] == "alert.firing"
        assert body["lang"] == "ar" and "فشل" in str(body["text"])
        assert body["alert"]["run_id"] == failed["run_id"]  # type: ignore[index]
        assert await wait_events(served, 1) == ["notification.delivered"]

        silence = {"matchers": {"workflow": "toggle"}, "for": "1h", "why": "on it"}
        await served.client.post("/api/v1/alerts/silences", json=silence)
        await served.run(TOGGLE_YAML, params={"code": "6"})  # silenced: nobody is told
        await served.run(TOGGLE_YAML)  # the workflow recovers: both alerts resolve
        resolved = [await next_delivery(receiver), await next_delivery(receiver)]
        assert {h["x-basir-event"] for h, _b in resolved} == {"alert.resolved"}
        assert receiver.hits == 3
    finally:
        await manager.stop()


async def route_alert(served: Served) -> dict[str, object]:
    """The alert about route `broken`, once it exists."""
    for _ in range(1000):
        for alert in (await served.client.get("/api/v1/alerts")).json()["items"]:
            if alert["id"] == "notification_failing.broken":
                return dict(alert)
        await asyncio.sleep(0.01)
    raise AssertionError("no alert about the route")


async def test_a_failing_route_is_retried_recorded_and_alerted(
    served: Served, receiver: Receiver
) -> None:
    receiver.status = 500
    route = {"name": "broken", "url": receiver.url, "secret": SECRET, "max_per_minute": 1}
    assert (await served.client.post("/api/v1/notifications/routes", json=route)).status_code == 201
    manager = await started(served)
    try:
        await served.run(TOGGLE_YAML, params={"code": "1"})
        # Three tries, then a record; the alerting's own alert about the route fires, and its
        # notification is over the route's rate limit (one a minute).
        assert (await wait_events(served, 2))[:2] == ["notification.failed", "notification.dropped"]
        assert receiver.hits == 3
        alert = await route_alert(served)
        assert alert["state"] == "firing" and "HTTP 500" in str(alert["message"])

        receiver.status = 200
        route["max_per_minute"] = 10
        await served.client.post("/api/v1/notifications/routes", json=route)
        ok = await served.run(TOGGLE_YAML)  # resolves the run alert: delivered this time
        assert ok["status"] == "succeeded"
        for _ in range(1000):
            if (await route_alert(served))["state"] == "resolved":
                break
            await asyncio.sleep(0.01)
        assert (await route_alert(served))["state"] == "resolved"
    finally:
        await manager.stop()


async def test_routes_need_admin_and_valid_input(served: Served) -> None:
    bad = {"name": "x", "url": "ftp://nope", "secret": "short"}
    response = await served.client.post("/api/v1/notifications/routes", json=bad)
    assert response.status_code == 422
    unknown = {"name": "x", "url": "http://h/", "secret": SECRET, "matchers": {"colour": "red"}}
    response = await served.client.post("/api/v1/notifications/routes", json=unknown)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.matchers.colour"


async def test_an_apprise_json_route_reaches_a_local_receiver(
    served: Served, receiver: Receiver
) -> None:
    url = receiver.url.replace("http://", "json://")
    route = {"name": "chat", "kind": "apprise", "url": url, "lang": "ar"}
    created = await served.client.post("/api/v1/notifications/routes", json=route)
    assert created.status_code == 201, created.text
    assert created.json()["kind"] == "apprise"
    manager = await started(served)
    try:
        failed = await served.run(TOGGLE_YAML, params={"code": "7"})
        headers, raw = await asyncio.wait_for(receiver.got.get(), 15)
        body = json.loads(raw)
        assert "x-basir-signature" not in headers  # apprise routes are not signed
        assert body["title"] == "[بصير: تنبيه نشط] خطأ run_failed"  # the route is Arabic
        assert "فشل" in body["message"] and str(failed["run_id"]) in body["message"]
        assert await wait_events(served, 1) == ["notification.delivered"]
    finally:
        await manager.stop()
