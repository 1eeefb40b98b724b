"""Alert notifications through HMAC-signed webhooks and apprise URLs (email, chat): routes,
rate limits, retries, records.

A route of kind `apprise` sends the alert's text in the route's language, with a subject
line, to an apprise URL (`mailto://` email, `slack://`, `tgram://`, `json://` …) through
`notify_apprise`; what follows about webhooks is the default kind, `webhook`.

A route (stored in the kv store, kind `notify.route`) says where to POST (`url`), with which
shared `secret`, in which language (`en` or `ar`), for which alerts (`matchers` on rule,
workflow, severity) and how often at most (`max_per_minute`).  Each delivery is a JSON POST
signed `X-Basir-Signature: sha256=HEX(HMAC-SHA256(secret, "<timestamp>.<body>"))` with the
timestamp in `X-Basir-Timestamp`, tried up to `ATTEMPTS` times with a growing delay, and
recorded as an event: `notification.delivered`, `notification.failed` (after the last try)
or `notification.dropped` (over the rate limit) — so a broken route shows in the event log
instead of failing silently.  Deliveries run as background tasks: alerting never waits on a
slow receiver.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from basir.events.bus import EventBus
from basir.i18n import _, use_locale
from basir.i18n.labels import N_
from basir.monitoring import notify_apprise
from basir.store.base import Store
from basir.store.records import Batch, EventRecord

log = logging.getLogger(__name__)

ROUTE_KIND = "notify.route"
ATTEMPTS = 3
FIRST_RETRY_S = 0.5
TIMEOUT_S = 10.0
NOTIFIED_EVENTS = ("alert.firing", "alert.resolved")
WEBHOOK, APPRISE = "webhook", "apprise"
KINDS = (WEBHOOK, APPRISE)


@dataclass(slots=True)
class Route:
    """Where and how to send alert notifications."""

    name: str
    url: str
    secret: str
    lang: str = "en"
    matchers: dict[str, str] = field(default_factory=dict)
    max_per_minute: int = 30
    kind: str = WEBHOOK  # or APPRISE: `url` is an apprise URL (mailto://, slack://, …)

    def wants(self, event: EventRecord) -> bool:
        """Whether this route takes the notification of `event`."""
        return all(str(event.data.get(key)) == value for key, value in self.matchers.items())

    def to_doc(self) -> dict[str, Any]:
        """The stored form."""
        return {
            "name": self.name,
            "url": self.url,
            "secret": self.secret,
            "lang": self.lang,
            "matchers": self.matchers,
            "max_per_minute": self.max_per_minute,
            "kind": self.kind,
        }

    @classmethod
    def of(cls, doc: dict[str, Any]) -> Route:
        """A route from its stored form."""
        return cls(
            name=str(doc["name"]),
            url=str(doc["url"]),
            secret=str(doc["secret"]),
            lang=str(doc.get("lang", "en")),
            matchers={str(k): str(v) for k, v in dict(doc.get("matchers") or {}).items()},
            max_per_minute=int(doc.get("max_per_minute", 30)),
            kind=str(doc.get("kind", WEBHOOK)),
        )


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value of a delivery: `sha256=` + hex HMAC of `timestamp.body`."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def body_of(event: EventRecord, lang: str) -> bytes:
    """The JSON a route receives: the alert event, its message in the route's language."""
    data = dict(event.data)
    messages = data.get("message")
    text = (messages.get(lang) or messages.get("en")) if isinstance(messages, dict) else None
    payload = {
        "type": event.type,
        "time": event.time,
        "lang": lang,
        "text": text,
        # An alert's fields under `alert`; anything else (a scheduled report) under `data`.
        ("alert" if event.type.startswith("alert.") else "data"): {
            k: v for k, v in data.items() if k != "message"
        },
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


# Severities as words of the subject line, in the route's language.
SEVERITY_NAMES = (N_("info"), N_("warning"), N_("error"), N_("critical"))


def title_and_text(event: EventRecord, lang: str) -> tuple[str, str]:
    """The subject line and text of a notification in `lang` (email, chat)."""
    data = event.data
    messages = data.get("message")
    text = ""
    if isinstance(messages, dict):
        text = str(messages.get(lang) or messages.get("en") or "")
    if not event.type.startswith("alert."):
        return f"[Basir] {event.type} {data.get('schedule') or ''}".strip(), text
    severity = str(data.get("severity") or "")
    with use_locale(lang):
        if severity in SEVERITY_NAMES:
            severity = _(severity)
        values = {"severity": severity.upper(), "rule": data.get("rule")}
        if event.type == "alert.firing":
            return _("[Basir FIRING] {severity} {rule}", **values), text
        return _("[Basir RESOLVED] {severity} {rule}", **values), text


class RateLimit:
    """At most `per_minute` sends in any sliding minute, per route."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._sent: dict[str, deque[float]] = {}
        self._clock = clock

    def allow(self, route: Route) -> bool:
        """Count one send if the route has room for it."""
        now = self._clock()
        sent = self._sent.setdefault(route.name, deque())
        while sent and sent[0] <= now - 60:
            sent.popleft()
        if len(sent) >= route.max_per_minute:
            return False
        sent.append(now)
        return True


class Notifier:
    """Sends alert events to the matching routes and records every delivery as an event."""

    def __init__(
        self,
        store: Store,
        bus: EventBus,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        first_retry_s: float = FIRST_RETRY_S,
    ) -> None:
        self.store = store
        self.bus = bus
        self.clock = clock
        self.first_retry_s = first_retry_s
        self._limits = RateLimit(clock)
        self._transport = transport
        self._http: httpx.AsyncClient | None = None  # made on the first delivery
        self._tasks: set[asyncio.Task[Any]] = set()

    async def routes(self) -> list[Route]:
        """Every stored route, by name."""
        return [Route.of(doc) for _key, doc in await self.store.kv_list(ROUTE_KIND)]

    async def put_route(self, route: Route) -> None:
        """Create or replace a route."""
        await self.store.kv_put(ROUTE_KIND, route.name, route.to_doc())

    def dispatch(self, event: EventRecord) -> None:
        """Deliver `event` to its routes in the background."""
        if event.type not in NOTIFIED_EVENTS:
            return
        task = asyncio.create_task(self.deliver(event), name=f"basir-notify-{event.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def deliver(self, event: EventRecord) -> list[EventRecord]:
        """Send `event` to every matching route; record and return the delivery events."""
        records = []
        for route in await self.routes():
            if not route.wants(event):
                continue
            if not self._limits.allow(route):
                records.append(self._record("notification.dropped", event, route, 0, None))
                continue
            records.append(await self._send(event, route))
        if records:
            written = await self.store.write(Batch([], records))
            self.bus.publish(written)
        return records

    async def send_to(self, route_name: str, event: EventRecord) -> list[EventRecord]:
        """Send `event` to one route whatever its matchers (scheduled reports); record it."""
        routes = [route for route in await self.routes() if route.name == route_name]
        records = [await self._send(event, route) for route in routes]
        if records:
            written = await self.store.write(Batch([], records))
            self.bus.publish(written)
        return records

    async def _send(self, event: EventRecord, route: Route) -> EventRecord:
        if route.kind == APPRISE:
            return await self._send_apprise(event, route)
        body = body_of(event, route.lang)
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=TIMEOUT_S, transport=self._transport)
        error: str | None = None
        status = 0
        for attempt in range(1, ATTEMPTS + 1):
            timestamp = str(int(self.clock()))
            headers = {
                "Content-Type": "application/json",
                "X-Basir-Event": event.type,
                "X-Basir-Timestamp": timestamp,
                "X-Basir-Signature": sign(route.secret, timestamp, body),
            }
            try:
                response = await self._http.post(route.url, content=body, headers=headers)
                status = response.status_code
                if status < 300:
                    return self._record("notification.delivered", event, route, attempt, status)
                error = f"HTTP {status}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            if attempt < ATTEMPTS:
                await asyncio.sleep(self.first_retry_s * 2 ** (attempt - 1))
        log.warning("notification to route %s failed: %s", route.name, error)
        return self._record("notification.failed", event, route, ATTEMPTS, status or None, error)

    async def _send_apprise(self, event: EventRecord, route: Route) -> EventRecord:
        title, text = title_and_text(event, route.lang)
        error: str | None = None
        for attempt in range(1, ATTEMPTS + 1):
            try:
                error = await asyncio.wait_for(
                    notify_apprise.send(route.url, title, text), notify_apprise.APPRISE_TIMEOUT_S
                )
            except TimeoutError:
                error = "apprise timed out"
            if error is None:
                return self._record("notification.delivered", event, route, attempt, None)
            if attempt < ATTEMPTS:
                await asyncio.sleep(self.first_retry_s * 2 ** (attempt - 1))
        log.warning("notification to route %s failed: %s", route.name, error)
        return self._record("notification.failed", event, route, ATTEMPTS, None, error)

    def _record(
        self,
        kind: str,
        event: EventRecord,
        route: Route,
        attempts: int,
        status: int | None,
        error: str | None = None,
    ) -> EventRecord:
        data: dict[str, Any] = {
            "route": route.name,
            "alert_id": event.data.get("alert_id"),
            "about": event.type,
            "attempts": attempts,
            "status": status,
        }
        if error:
            data["error"] = error
        return EventRecord(
            type=kind,
            subject=f"notifications/{route.name}",
            time=self.clock(),
            data=data,
            run_id=event.run_id,
            workflow=event.workflow,
        )

    async def close(self) -> None:
        """Wait briefly for deliveries under way, then release the HTTP client."""
        if self._tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*self._tasks, return_exceptions=True), 5)
        http, self._http = self._http, None
        if http is not None:
            await http.aclose()
