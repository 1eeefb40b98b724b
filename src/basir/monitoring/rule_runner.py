"""`RuleRunner`: evaluates the user alert rules every few seconds and keeps their alerts.

Rules come from the rules file (read once at start, read-only) and from the store (kind
`alert.rule`, written by `POST /api/v1/alerts/rules`).  Metric rules read the live
`basir_*` series (the same ones the history samples); event rules count the matching events
the bus delivers (counts start empty after a restart).  Firing and resolved alerts are
stored and announced through the `AlertManager` (events, notifications, silences); pending
ones are kept here and listed by the API.  `last_evaluated_at` lets the alerting's own
watchdog notice when evaluation stalls.  Each pass also applies the built-in `store_slow`
rule to the same metric samples (`basir.monitoring.store_watch`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from basir.errors import BasirError, ConflictError, NotFoundError
from basir.events.bus import EventBus, Subscription
from basir.i18n import _
from basir.monitoring.alert_rules import FIRING, STORE_SLOW
from basir.monitoring.history import Sample
from basir.monitoring.rule_eval import (
    Finding,
    count_findings,
    event_labels,
    group_key,
    metric_findings,
    pending_alert,
    step,
)
from basir.monitoring.rule_spec import MAX_RULES, AlertRuleSpec, validate_rule
from basir.monitoring.store_watch import commit_totals, on_commit_totals
from basir.store.base import Store
from basir.store.records import AlertRecord, EventRecord

if TYPE_CHECKING:
    from basir.monitoring.alert_manager import AlertManager

log = logging.getLogger(__name__)

RULE_KIND = "alert.rule"
EVALUATE_EVERY_S = 15.0
MAX_EVENTS_PER_GROUP = 100_000
MAX_GROUPS_PER_RULE = 1000
MAX_FIRING_READ = 5000

SampleSource = Callable[[], Awaitable[list[Sample]]]


def rule_not_found(name: str) -> NotFoundError:
    """`alert_rule.not_found`."""
    return NotFoundError("alert_rule.not_found", _("no alert rule named {name}", name=name))


class RuleRunner:
    """Holds the rules, counts their events, evaluates them on a timer."""

    def __init__(
        self,
        store: Store,
        bus: EventBus,
        manager: AlertManager,
        *,
        samples: SampleSource | None = None,
        file_rules: list[AlertRuleSpec] | None = None,
        interval_s: float = EVALUATE_EVERY_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.bus = bus
        self.manager = manager
        self.samples = samples
        self.file_rules = {rule.name: rule for rule in file_rules or []}
        self.interval_s = interval_s
        self.clock = clock
        self.last_evaluated_at: float | None = None
        self._commit_totals: tuple[float, float] | None = None  # for the store_slow rule
        self._stored: dict[str, AlertRuleSpec] = {}
        self._pending: dict[str, dict[str, tuple[float, Finding]]] = {}
        self._seen: dict[str, dict[str, deque[float]]] = {}
        self._groups: dict[str, dict[str, dict[str, str]]] = {}
        self._event_types: frozenset[str] = frozenset()
        self._subscription: Subscription | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # ---------------------------------------------------------------- rules

    def rules(self) -> list[AlertRuleSpec]:
        """Every rule in force, file rules first, each by name."""
        stored = [r for name, r in sorted(self._stored.items()) if name not in self.file_rules]
        return [*(self.file_rules[n] for n in sorted(self.file_rules)), *stored]

    def source_of(self, name: str) -> str:
        """`file` or `api`: where a rule comes from."""
        return "file" if name in self.file_rules else "api"

    async def load(self) -> None:
        """Read the stored rules (a stored rule that no longer validates is skipped, logged)."""
        self._stored = {}
        for name, doc in await self.store.kv_list(RULE_KIND, limit=MAX_RULES):
            try:
                self._stored[name] = validate_rule(doc, f"{RULE_KIND}.{name}.")
            except BasirError:
                log.exception("stored alert rule %s is not valid; skipped", name)
        self._reindex()

    async def put(self, rule: AlertRuleSpec) -> bool:
        """Create or replace an API rule; True when created.  File rules cannot be replaced."""
        if rule.name in self.file_rules:
            raise ConflictError(
                "alert_rule.read_only",
                _("alert rule {name} comes from the rules file; change it there", name=rule.name),
            )
        created = rule.name not in self._stored
        if created and len(self.rules()) >= MAX_RULES:
            raise BasirError(
                "alert_rule.too_many", _("at most {n} alert rules", n=MAX_RULES), kind="limit"
            )
        await self.store.kv_put(RULE_KIND, rule.name, rule.to_doc())
        async with self.manager.lock:
            self._stored[rule.name] = rule
            self._forget(rule.name)  # a changed rule starts afresh: its counts and pending
            self._reindex()
        return created

    async def delete(self, name: str) -> None:
        """Delete an API rule; its firing alerts are resolved."""
        if name in self.file_rules:
            raise ConflictError(
                "alert_rule.read_only",
                _("alert rule {name} comes from the rules file; change it there", name=name),
            )
        if name not in self._stored:
            raise rule_not_found(name)
        await self.store.kv_delete(RULE_KIND, name)
        async with self.manager.lock:
            rule = self._stored.pop(name)
            self._forget(name)
            self._reindex()
            firing = await self._firing_of(rule.name)
            result = step(rule, {}, {}, firing, [], self.clock())
            await self.manager.record(result.changes)

    def _forget(self, name: str) -> None:
        self._pending.pop(name, None)
        self._seen.pop(name, None)
        self._groups.pop(name, None)

    def _reindex(self) -> None:
        self._event_types = frozenset(r.event for r in self.rules() if r.event is not None)

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Load the stored rules, follow the bus for event rules, evaluate on a timer."""
        await self.load()
        self._subscription = self.bus.subscribe(lambda e: e.type in self._event_types)
        self._tasks = [
            asyncio.create_task(self._follow(), name="basir-rule-events"),
            asyncio.create_task(self._loop(), name="basir-rule-eval"),
        ]

    async def stop(self) -> None:
        """Stop following events and evaluating."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None

    async def _follow(self) -> None:
        subscription = self._subscription
        assert subscription is not None
        while True:
            self.observe(await subscription.get())

    async def _loop(self) -> None:
        while True:
            try:
                await self.evaluate()
            except Exception:  # one failed pass is logged; the watchdog sees a stall
                log.exception("alert rule evaluation failed")
            await asyncio.sleep(self.interval_s)

    # ---------------------------------------------------------------- evaluating

    def observe(self, event: EventRecord) -> None:
        """Count `event` for every event rule it matches."""
        if event.type not in self._event_types:
            return
        for rule in self.rules():
            labels = event_labels(rule, event)
            if labels is None:
                continue
            key = group_key(labels)
            seen = self._seen.setdefault(rule.name, {})
            if key not in seen and len(seen) >= MAX_GROUPS_PER_RULE:
                continue  # bounded: a rule grouping by run id cannot grow without end
            self._groups.setdefault(rule.name, {})[key] = labels
            seen.setdefault(key, deque(maxlen=MAX_EVENTS_PER_GROUP)).append(event.time)

    async def evaluate(self) -> list[AlertRecord]:
        """Evaluate every rule once; store and announce what fired or resolved."""
        samples = await self.samples() if self.samples is not None else []
        now = self.clock()
        changed: list[AlertRecord] = []
        async with self.manager.lock:
            silences = await self.manager.silences()
            firing_all = await self.store.alert_list(state=FIRING, limit=MAX_FIRING_READ)
            for rule in self.rules():
                if rule.metric is not None:
                    findings = metric_findings(rule, samples)
                else:
                    seen = self._seen.get(rule.name, {})
                    findings = count_findings(rule, seen, self._groups.get(rule.name, {}), now)
                firing = {
                    group_key(a.data.get("group") or {}): a
                    for a in firing_all
                    if a.rule == rule.name
                }
                result = step(
                    rule, findings, self._pending.get(rule.name, {}), firing, silences, now
                )
                self._pending[rule.name] = result.pending
                changed.extend(result.changes)
            totals = commit_totals(samples)
            slow = next((a for a in firing_all if a.rule == STORE_SLOW), None)
            changed.extend(on_commit_totals(self._commit_totals, totals, slow, silences, now))
            self._commit_totals = totals or self._commit_totals
            await self.manager.record(changed)
        self.last_evaluated_at = now
        return changed

    async def _firing_of(self, name: str) -> dict[str, AlertRecord]:
        found = await self.store.alert_list(state=FIRING, limit=MAX_FIRING_READ)
        return {group_key(a.data.get("group") or {}): a for a in found if a.rule == name}

    def pending(self) -> list[AlertRecord]:
        """The groups whose condition holds but not yet for long enough, as alerts."""
        now = self.clock()
        by_name = {rule.name: rule for rule in self.rules()}
        return [
            pending_alert(by_name[name], since, finding, now)
            for name, groups in sorted(self._pending.items())
            if name in by_name
            for since, finding in groups.values()
        ]
