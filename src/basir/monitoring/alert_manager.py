"""`AlertManager`: applies the alert rules to committed events and keeps alerts in the store.

It follows the engine's event bus (and, on start or when it lagged, the event log from its
saved cursor, so an alert is neither lost nor doubled across restarts), stores each alert
change, and records `alert.firing` / `alert.resolved` events — durable before visible, like
every event.  A silenced alert is stored and listed (with `silenced_by`) but records no
`alert.firing` event, so nothing downstream is told.  Every change runs under one lock: the
rules see a consistent picture while users acknowledge or silence.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
import time
from collections.abc import Awaitable, Callable

from basir.engine.attempts import CHILD_TRIGGER
from basir.errors import NotFoundError
from basir.events.bus import EventBus, Subscription
from basir.i18n import _, use_locale
from basir.i18n.deferred import labelled
from basir.monitoring.alert_rules import (
    ALERTING_STALLED,
    DEADLINE_MISSED,
    FIRING,
    HEALTH_ALERTED,
    LOST_AT_RESUME,
    NOTIFICATION_EVENTS,
    RESOLVED,
    RUN_FAILED,
    WATCHED_EVENTS,
    WORKER_LOST,
    Silence,
    alert_id,
    health_alert_id,
    messages,
    on_deadline_event,
    on_health,
    on_notification_event,
    on_run_event,
    on_stall,
    on_worker_lost_event,
    route_alert_id,
    stall_after_s,
)
from basir.monitoring.health_overview import RED, Facts, assess
from basir.monitoring.notify import Notifier
from basir.monitoring.overdue import OverdueWatch
from basir.monitoring.rule_runner import RuleRunner
from basir.store.base import Store
from basir.store.records import AlertRecord, Batch, EventRecord, RunRecord

log = logging.getLogger(__name__)

CURSOR_KIND, CURSOR_KEY = "alerts", "cursor"
SILENCE_KIND = "silence"
CATCH_UP_PAGE = 500
MAX_FIRING_PER_WORKFLOW = 1000
HEALTH_INTERVAL_S = 30.0


def alert_not_found(alert_id_: str) -> NotFoundError:
    """No alert with this id."""
    return NotFoundError("alert.not_found", _("no alert with id {alert_id}", alert_id=alert_id_))


def alert_event(alert: AlertRecord, now: float) -> EventRecord:
    """The `alert.firing` or `alert.resolved` event of an alert change."""
    kind = "alert.firing" if alert.state == FIRING else "alert.resolved"
    return EventRecord(
        type=kind,
        subject=f"alerts/{alert.id}",
        time=now,
        data={
            "alert_id": alert.id,
            "rule": alert.rule,
            "severity": alert.severity,
            "workflow": alert.workflow,
            "run_id": alert.run_id,
            "status": alert.state,
            "message": messages(alert),
        },
        run_id=alert.run_id,
        workflow=alert.workflow,
    )


class AlertManager:
    """Evaluates the built-in rules on the engine's events and stores the alerts."""

    def __init__(
        self,
        store: Store,
        bus: EventBus,
        *,
        clock: Callable[[], float] = time.time,
        notifier: Notifier | None = None,
        health_probe: Callable[[], Awaitable[Facts]] | None = None,
        health_interval_s: float = HEALTH_INTERVAL_S,
        overdue: OverdueWatch | None = None,
    ):
        self.store = store
        self.bus = bus
        self.notifier = notifier
        self.health_probe = health_probe
        self.health_interval_s = health_interval_s
        self._health_task: asyncio.Task[None] | None = None
        self.clock = clock
        self.rule_runner: RuleRunner | None = None  # set by the app: the user rules
        self.overdue = overdue
        self.lock = asyncio.Lock()
        self._cursor = 0
        self._task: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Catch up on the event log since the saved cursor, then follow the bus."""
        if self._task is not None:
            return
        self._subscription = self.bus.subscribe(lambda e: e.type in WATCHED_EVENTS)
        saved = await self.store.kv_get(CURSOR_KIND, CURSOR_KEY)
        if saved is None:  # first start: alert on what happens from now on, not on history
            self._cursor = await self.store.last_event_id()
            await self._save_cursor()
        else:
            self._cursor = int(saved.get("event_id", 0))
        await self.catch_up()
        self._task = asyncio.create_task(self._follow(), name="basir-alerts")
        if self.health_probe is not None and self.health_interval_s > 0:
            self._health_task = asyncio.create_task(self._watch_health(), name="basir-health")

    async def stop(self) -> None:
        """Stop following events (and let deliveries under way finish briefly)."""
        task, self._task = self._task, None
        health, self._health_task = self._health_task, None
        if health is not None:
            health.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await health
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.notifier is not None:
            await self.notifier.close()

    async def _follow(self) -> None:
        subscription = self._subscription
        assert subscription is not None
        while True:
            event = await subscription.get()
            try:
                if subscription.lagged:
                    subscription.lagged = False
                    await self.catch_up()
                await self.handle(event)
            except Exception:  # one bad event must not stop the alerting
                log.exception("alert evaluation failed for event %s", event.id)

    async def _watch_health(self) -> None:
        while True:
            await asyncio.sleep(self.health_interval_s)
            try:
                await self.check_health()
            except Exception:  # a failed check is skipped; the next one tries again
                log.exception("health check failed")

    async def check_health(self) -> list[AlertRecord]:
        """Probe the health overview once; fire or resolve the health alerts.

        The same watch checks that rule evaluation is not stalled and which runs are overdue
        (the usual durations are read before taking the lock: that read may take a second).
        """
        if self.health_probe is None:
            return []
        facts = await self.health_probe()
        if self.overdue is not None:
            await self.overdue.usual_p95(self.clock())
        reds: dict[str, dict[str, list[str]]] = {}
        for lang in ("en", "ar"):
            with use_locale(lang):
                _overall, verdicts = assess(facts)
            for name, verdict in verdicts.items():
                if verdict.status == RED:
                    reds.setdefault(name, {})[lang] = verdict.reasons
        async with self.lock:
            existing = {
                name: await self.store.alert_get(health_alert_id(name)) for name in HEALTH_ALERTED
            }
            now = self.clock()
            changed = on_health(reds, existing, await self.silences(), now)
            changed.extend(await self._watch_rules(now))
            if self.overdue is not None:
                changed.extend(await self.overdue.check(await self.silences(), now))
            await self.record(changed)
        return changed

    async def _watch_rules(self, now: float) -> list[AlertRecord]:
        """The alerting watches itself: `alerting_stalled` while rule evaluation is late."""
        runner = self.rule_runner
        if runner is None:
            return []
        last = runner.last_evaluated_at
        late_after = stall_after_s(runner.interval_s)
        stalled = last is not None and now - last > late_after
        existing = await self.store.alert_get(ALERTING_STALLED)
        return on_stall(stalled, last, existing, await self.silences(), now)

    async def catch_up(self) -> None:
        """Handle every watched event of the log after the cursor."""
        while True:
            events = await self.store.list_events(
                after=self._cursor, limit=CATCH_UP_PAGE, types=WATCHED_EVENTS
            )
            for event in events:
                await self.handle(event)
            if len(events) < CATCH_UP_PAGE:
                return

    # ---------------------------------------------------------------- evaluating

    async def handle(self, event: EventRecord) -> list[AlertRecord]:
        """Apply the rules to one committed event; store and announce what changed."""
        if event.type not in WATCHED_EVENTS or (event.id and event.id <= self._cursor):
            return []
        if event.type == "task.interrupted" and event.data.get("reason") != LOST_AT_RESUME:
            # A shutdown or pause of thousands of tasks: pass them without a store write each.
            self._cursor = max(self._cursor, event.id or 0)
            return []
        async with self.lock:
            changed = await self._evaluate(event)
            await self.record(changed)
            if event.id:
                self._cursor = event.id
                await self._save_cursor()
        return changed

    async def _evaluate(self, event: EventRecord) -> list[AlertRecord]:
        if event.type in NOTIFICATION_EVENTS:
            route = event.data.get("route")
            existing_route = await self.store.alert_get(route_alert_id(str(route)))
            return on_notification_event(event, existing_route, await self.silences(), self.clock())
        if event.run_id is None:
            return []
        if event.type == "task.interrupted":
            lost = await self.store.alert_get(alert_id(WORKER_LOST, event.run_id))
            return on_worker_lost_event(event, lost, await self.silences(), self.clock())
        existing = await self.store.alert_get(alert_id(RUN_FAILED, event.run_id))
        firing: list[AlertRecord] = []
        error = None
        run_failed = True
        if event.type == "run.succeeded":
            firing = await self.store.alert_list(
                state=FIRING, workflow=event.workflow, limit=MAX_FIRING_PER_WORKFLOW
            )
        elif event.type == "run.failed":
            run = await self.store.get_run(event.run_id)
            # A sub-workflow's run fails its parent's task, which may still be retried and
            # succeed: the parent's final failure is the one to alert on, once.
            run_failed = run is None or not run.trigger.startswith(CHILD_TRIGGER)
            error = await self._failure_of(event.run_id, run) if run_failed else None
        silences = await self.silences()
        now = self.clock()
        deadline = await self.store.alert_get(alert_id(DEADLINE_MISSED, event.run_id))
        lost = await self.store.alert_get(alert_id(WORKER_LOST, event.run_id))
        return [
            *(on_run_event(event, existing, firing, error, silences, now) if run_failed else ()),
            *on_deadline_event(event, deadline, silences, now),
            *on_worker_lost_event(event, lost, silences, now),
        ]

    async def _failure_of(self, run_id: str, run: RunRecord | None) -> str | None:
        """Why a run failed: its own error, else its first failed task's (`task: error`).

        As stored (a message stays one): the alert's text renders it in its reader's language.
        """
        if run is not None and run.error:
            return run.error
        for task in await self.store.get_tasks(run_id):
            if task.status == "failed":
                return labelled(task.task_id, task.error) if task.error else task.task_id
        return None

    async def record(self, changed: list[AlertRecord]) -> None:
        """Store alert changes; announce (event, notifications) all but silenced firings."""
        now = self.clock()
        announce = []
        for alert in changed:
            await self.store.alert_put(alert)
            if not (alert.state == FIRING and alert.silenced_by):
                announce.append(alert_event(alert, now))
        if announce:
            written = await self.store.write(Batch([], announce))
            self.bus.publish(written)
            if self.notifier is not None:
                for event in written:
                    self.notifier.dispatch(event)

    async def _save_cursor(self) -> None:
        await self.store.kv_put(CURSOR_KIND, CURSOR_KEY, {"event_id": self._cursor})

    # ---------------------------------------------------------------- people

    async def acknowledge(self, alert_id_: str, by: str) -> AlertRecord:
        """Record that `by` has seen the alert (it keeps firing until resolved)."""
        async with self.lock:
            alert = await self.store.alert_get(alert_id_)
            if alert is None:
                raise alert_not_found(alert_id_)
            now = self.clock()
            acked = dataclasses.replace(alert, acked_by=by, acked_at=now, updated_at=now)
            await self.store.alert_put(acked)
        return acked

    async def silence(self, matchers: dict[str, str], until: float, by: str, why: str) -> Silence:
        """Silence alerts matching `matchers` until `until`; firing ones are marked at once."""
        now = self.clock()
        found = Silence(f"s{secrets.token_hex(6)}", matchers, until, by, why, now)
        async with self.lock:
            await self.store.kv_put(SILENCE_KIND, found.id, _silence_doc(found))
            for alert in await self.store.alert_list(state=FIRING, limit=MAX_FIRING_PER_WORKFLOW):
                if alert.silenced_by is None and found.matches(alert, now):
                    await self.store.alert_put(dataclasses.replace(alert, silenced_by=found.id))
        return found

    async def silences(self, *, include_expired: bool = False) -> list[Silence]:
        """The silences in force (all of them with `include_expired`), newest first."""
        now = self.clock()
        found = [_silence_of(doc) for _key, doc in await self.store.kv_list(SILENCE_KIND)]
        kept = [s for s in found if include_expired or s.until > now]
        return sorted(kept, key=lambda s: s.created_at, reverse=True)


def _silence_doc(silence: Silence) -> dict[str, object]:
    return {
        "id": silence.id,
        "matchers": silence.matchers,
        "until": silence.until,
        "by": silence.by,
        "why": silence.why,
        "created_at": silence.created_at,
    }


def _silence_of(doc: dict[str, object]) -> Silence:
    matchers = doc.get("matchers")
    return Silence(
        id=str(doc["id"]),
        matchers={str(k): str(v) for k, v in matchers.items()}
        if isinstance(matchers, dict)
        else {},
        until=float(str(doc["until"])),
        by=str(doc.get("by", "")),
        why=str(doc.get("why", "")),
        created_at=float(str(doc.get("created_at", 0.0))),
    )


__all__ = ["RESOLVED", "AlertManager", "alert_event", "alert_not_found"]
