"""Evaluating user alert rules: values per group, then pending → firing → resolved.  Pure.

A rule's *findings* are its current value per group (`group_by` labels; one group `""`
without them).  `step` compares each with the threshold: a group whose condition starts to
hold becomes *pending* (remembered with the time it started); once it has held for the rule's
`for`, its alert *fires*; a firing alert whose condition no longer holds (or whose group has
disappeared) is *resolved*.  One alert per rule and group (its id is stable), so a condition
that keeps holding never fires twice: deduplication by construction.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from basir.monitoring.alert_rules import FIRING, RESOLVED, Silence, silencing
from basir.monitoring.history import Sample
from basir.monitoring.rule_spec import AlertRuleSpec, format_value, render
from basir.store.records import AlertRecord, EventRecord

PENDING = "pending"
CUSTOM = "custom"


@dataclass(frozen=True, slots=True)
class Finding:
    """A rule's value for one group of series or events."""

    group: str
    labels: dict[str, str]
    value: float


def group_key(labels: dict[str, str]) -> str:
    """The canonical key of a group's labels (`""` for the one group of an ungrouped rule)."""
    return json.dumps(labels, sort_keys=True, separators=(",", ":")) if labels else ""


def rule_alert_id(rule: str, group: str) -> str:
    """The stable id of a rule's alert about one group."""
    if not group:
        return rule
    return f"{rule}.{hashlib.sha256(group.encode()).hexdigest()[:12]}"


def metric_findings(rule: AlertRuleSpec, samples: Iterable[Sample]) -> dict[str, Finding]:
    """The sum of the series of `rule.metric` whose labels match, per `group_by` group."""
    sums: dict[str, float] = {}
    names: dict[str, dict[str, str]] = {}
    for sample in samples:
        if sample.name != rule.metric:
            continue
        labels: dict[str, str] = json.loads(sample.labels)
        if any(labels.get(k) != v for k, v in rule.match.items()):
            continue
        group = {k: labels.get(k, "") for k in rule.group_by}
        key = group_key(group)
        names[key] = group
        sums[key] = sums.get(key, 0.0) + sample.value
    if not rule.group_by and not sums:
        sums[""], names[""] = 0.0, {}  # no series yet: the sum is 0
    return {key: Finding(key, names[key], value) for key, value in sums.items()}


def event_labels(rule: AlertRuleSpec, event: EventRecord) -> dict[str, str] | None:
    """The group of `event` under `rule`, or None when the event does not match the rule."""
    if event.type != rule.event:
        return None
    fields = {"workflow": event.workflow, "run_id": event.run_id, "task_id": event.task_id}
    if any(fields.get(k) != v for k, v in rule.match.items()):
        return None
    return {k: fields.get(k) or "" for k in rule.group_by}


def count_findings(
    rule: AlertRuleSpec,
    seen: dict[str, deque[float]],
    groups: dict[str, dict[str, str]],
    now: float,
) -> dict[str, Finding]:
    """Events per group in the last `window` (old times are dropped from `seen` here)."""
    found: dict[str, Finding] = {}
    for key, times in list(seen.items()):
        while times and times[0] <= now - rule.window_s:
            times.popleft()
        if times:
            found[key] = Finding(key, groups[key], float(len(times)))
        else:
            del seen[key]
    if not rule.group_by and "" not in found:
        found[""] = Finding("", {}, 0.0)
    return found


def messages_of(rule: AlertRuleSpec, finding: Finding) -> dict[str, str]:
    """The rule's message in both languages for one finding."""
    values: dict[str, object] = {
        "rule": rule.name,
        "value": format_value(finding.value),
        "threshold": format_value(rule.threshold),
        **finding.labels,
    }
    return {"en": render(rule.message.en, values), "ar": render(rule.message.ar, values)}


def _fired(rule: AlertRuleSpec, finding: Finding, since: float, now: float) -> AlertRecord:
    return AlertRecord(
        id=rule_alert_id(rule.name, finding.group),
        rule=rule.name,
        state=FIRING,
        severity=rule.severity,
        workflow=finding.labels.get("workflow") or rule.labels.get("workflow"),
        run_id=finding.labels.get("run_id"),
        fired_at=now,
        updated_at=now,
        data={
            "kind": CUSTOM,
            "value": finding.value,
            "threshold": rule.threshold,
            "group": finding.labels,
            "labels": rule.labels,
            "pending_since": since,
            "messages": messages_of(rule, finding),
        },
    )


@dataclass(slots=True)
class StepResult:
    """What one evaluation changes: alerts to store, and the groups still pending."""

    changes: list[AlertRecord]
    pending: dict[str, tuple[float, Finding]]


def step(
    rule: AlertRuleSpec,
    findings: dict[str, Finding],
    pending: dict[str, tuple[float, Finding]],
    firing: dict[str, AlertRecord],
    silences: list[Silence],
    now: float,
) -> StepResult:
    """One evaluation of `rule`: `pending` maps a group to (since when, latest finding);
    `firing` maps a group to its stored firing alert.
    """
    changes: list[AlertRecord] = []
    still: dict[str, tuple[float, Finding]] = {}
    for key, finding in findings.items():
        if not rule.holds(finding.value):
            continue
        if key in firing:
            continue  # already firing: deduplicated
        since = pending[key][0] if key in pending else now
        if now - since >= rule.for_s:
            fired = _fired(rule, finding, since, now)
            fired.silenced_by = silencing(fired, silences, now)
            changes.append(fired)
        else:
            still[key] = (since, finding)
    for key, alert in firing.items():
        finding_now = findings.get(key)
        if finding_now is None or not rule.holds(finding_now.value):
            data = dict(alert.data)
            if finding_now is not None:
                data["resolved_value"] = finding_now.value
            changes.append(
                dataclasses.replace(
                    alert, state=RESOLVED, resolved_at=now, updated_at=now, data=data
                )
            )
    return StepResult(changes, still)


def pending_alert(rule: AlertRuleSpec, since: float, finding: Finding, now: float) -> AlertRecord:
    """How a pending group is listed (not stored: it has not fired)."""
    alert = _fired(rule, finding, since, now)
    return dataclasses.replace(alert, state=PENDING, fired_at=since)
