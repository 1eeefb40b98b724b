"""The built-in alert rules ("a run failed", "a deadline was missed") and silences: pure.

`run_failed` fires once per *final* failure of a run: the engine records `run.failed` only
when no task has a retry left (a failed attempt that will be retried is `task.retrying`, never
a run failure), so a retry that may still succeed never alerts (airflow#30146, #12612).  The
alert of a run stays firing until the workflow succeeds again — the same run after a retry,
or any later run — which resolves every firing run-failed alert of that workflow.  A run that
fails again after its alert was resolved fires a new one.

`notification_failing` watches the alerting itself (dagster#18130: a broken Slack alert went
unnoticed for weeks): it fires when a delivery to a notification route fails after its
retries, and resolves at that route's next successful delivery.

`health` alerts follow the health overview, checked every half minute: one alert per part
(`health.store`, `health.scheduler`, `health.queues`, `health.disk`) fires while that part is
red (the store does not answer, the engine stopped, a task has waited 15 min to start, the
disk is 95 % full) and resolves when it is no longer red.

`alerting_stalled` watches the user rules' evaluation: it fires when no pass has finished for
three evaluation periods (at least a minute) and resolves at the next pass.

`deadline_missed` fires (severity `warning`) when a run is still going at its deadline
(`deadline.missed`, recorded once per run) and resolves when that run ends, however it ends.

`worker_lost` fires (severity `warning`) when tasks of a run were found running at resume:
the process that ran them died without finishing them (a crash, `kill -9`, a lost machine),
and they were queued again (`task.interrupted` with reason `interrupted`).  Once per run,
naming the first task found; it resolves when that run ends.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from basir.i18n import _, current_locale, use_locale
from basir.i18n.deferred import render_message
from basir.store.records import AlertRecord, EventRecord

RUN_FAILED = "run_failed"
DEADLINE_MISSED = "deadline_missed"
FIRING, RESOLVED = "firing", "resolved"
STATES = (FIRING, RESOLVED)
NOTIFICATION_FAILING = "notification_failing"
HEALTH = "health"
ALERTING_STALLED = "alerting_stalled"
RUN_OVERDUE = "run_overdue"
TASK_OVERDUE = "task_overdue"
STORE_SLOW = "store_slow"
WORKER_LOST = "worker_lost"
LOST_AT_RESUME = "interrupted"  # `task.interrupted` reason of an attempt found running at resume
STALL_FACTOR = 3
MIN_STALL_S = 60.0
HEALTH_ALERTED = ("store", "scheduler", "queues", "disk")
RUN_ENDS = ("run.failed", "run.succeeded", "run.cancelled")
NOTIFICATION_EVENTS = ("notification.failed", "notification.delivered")
WATCHED_EVENTS = (*RUN_ENDS, "deadline.missed", "task.interrupted", *NOTIFICATION_EVENTS)
SEVERITY_ERROR = "error"
SEVERITY_WARNING = "warning"
MATCHABLE = ("rule", "workflow", "run_id", "severity")


@dataclass(slots=True)
class Silence:
    """Suppresses the notification of alerts whose fields equal every matcher, until `until`."""

    id: str
    matchers: dict[str, str]
    until: float
    by: str
    why: str
    created_at: float
    extra: dict[str, Any] = field(default_factory=dict)

    def matches(self, alert: AlertRecord, now: float) -> bool:
        """Whether this silence is in force at `now` and covers `alert`."""
        if now >= self.until:
            return False
        return all(str(getattr(alert, k, None)) == v for k, v in self.matchers.items())


def alert_id(rule: str, run_id: str) -> str:
    """The stable id of a rule's alert about one run (deduplicates replays)."""
    return f"{rule}.{run_id}"


def silencing(alert: AlertRecord, silences: list[Silence], now: float) -> str | None:
    """The id of the first silence covering `alert` at `now`, or None."""
    for silence in silences:
        if silence.matches(alert, now):
            return silence.id
    return None


def on_run_event(
    event: EventRecord,
    existing: AlertRecord | None,
    firing_of_workflow: list[AlertRecord],
    error: str | None,
    silences: list[Silence],
    now: float,
) -> list[AlertRecord]:
    """The alerts that `event` creates or changes (to be stored), in order.

    `existing` is the alert already stored for this run (if any); `firing_of_workflow` the
    firing run-failed alerts of the event's workflow; `error` the failed run's error.
    """
    run_id, workflow = event.run_id, event.workflow
    if run_id is None or workflow is None:
        return []
    if event.type == "run.failed":
        if existing is not None and existing.state == FIRING:
            return []  # already firing: a replay, or a retried run failing again
        fired = AlertRecord(
            id=alert_id(RUN_FAILED, run_id),
            rule=RUN_FAILED,
            state=FIRING,
            severity=SEVERITY_ERROR,
            workflow=workflow,
            run_id=run_id,
            fired_at=event.time,
            updated_at=now,
            data={"error": error or "", "event_id": event.id},
        )
        fired.silenced_by = silencing(fired, silences, now)
        return [fired]
    if event.type == "run.succeeded":
        return [
            dataclasses.replace(alert, state=RESOLVED, resolved_at=event.time, updated_at=now)
            for alert in firing_of_workflow
            if alert.rule == RUN_FAILED
        ]
    return []


def on_deadline_event(
    event: EventRecord, existing: AlertRecord | None, silences: list[Silence], now: float
) -> list[AlertRecord]:
    """The deadline alert that `event` fires or resolves (`existing`: this run's, if any)."""
    run_id, workflow = event.run_id, event.workflow
    if run_id is None or workflow is None:
        return []
    if event.type == "deadline.missed":
        if event.task_id is not None or (existing is not None and existing.state == FIRING):
            # A task's own deadline is the run's business (its event says so); alert on runs.
            return []
        fired = AlertRecord(
            id=alert_id(DEADLINE_MISSED, run_id),
            rule=DEADLINE_MISSED,
            state=FIRING,
            severity=SEVERITY_WARNING,
            workflow=workflow,
            run_id=run_id,
            fired_at=event.time,
            updated_at=now,
            data={"deadline_at": event.data.get("deadline_at"), "event_id": event.id},
        )
        fired.silenced_by = silencing(fired, silences, now)
        return [fired]
    if event.type in RUN_ENDS and existing is not None and existing.state == FIRING:
        return [
            dataclasses.replace(existing, state=RESOLVED, resolved_at=event.time, updated_at=now)
        ]
    return []


def on_worker_lost_event(
    event: EventRecord, existing: AlertRecord | None, silences: list[Silence], now: float
) -> list[AlertRecord]:
    """The worker-lost alert that `event` fires or resolves (`existing`: this run's, if any)."""
    run_id, workflow = event.run_id, event.workflow
    if run_id is None or workflow is None:
        return []
    firing = existing is not None and existing.state == FIRING
    if event.type == "task.interrupted":
        if event.data.get("reason") != LOST_AT_RESUME or firing:
            return []  # a shutdown or a pause stops work on purpose; once per run
        fired = AlertRecord(
            id=alert_id(WORKER_LOST, run_id),
            rule=WORKER_LOST,
            state=FIRING,
            severity=SEVERITY_WARNING,
            workflow=workflow,
            run_id=run_id,
            fired_at=event.time,
            updated_at=now,
            data={"task": event.task_id or "", "event_id": event.id},
        )
        fired.silenced_by = silencing(fired, silences, now)
        return [fired]
    if event.type in RUN_ENDS and existing is not None and firing:
        return [
            dataclasses.replace(existing, state=RESOLVED, resolved_at=event.time, updated_at=now)
        ]
    return []


def route_alert_id(route: str) -> str:
    """The id of the alert about one notification route."""
    return f"{NOTIFICATION_FAILING}.{route}"


def on_notification_event(
    event: EventRecord, existing: AlertRecord | None, silences: list[Silence], now: float
) -> list[AlertRecord]:
    """The route alert that a delivery record fires (failed) or resolves (delivered)."""
    route = event.data.get("route")
    if not isinstance(route, str):
        return []
    if event.type == "notification.failed":
        if existing is not None and existing.state == FIRING:
            return []
        fired = AlertRecord(
            id=route_alert_id(route),
            rule=NOTIFICATION_FAILING,
            state=FIRING,
            severity=SEVERITY_ERROR,
            workflow=None,
            run_id=None,
            fired_at=event.time,
            updated_at=now,
            data={"route": route, "error": event.data.get("error") or "", "event_id": event.id},
        )
        fired.silenced_by = silencing(fired, silences, now)
        return [fired]
    delivered = event.type == "notification.delivered"
    if delivered and existing is not None and existing.state == FIRING:
        return [
            dataclasses.replace(existing, state=RESOLVED, resolved_at=event.time, updated_at=now)
        ]
    return []


def health_alert_id(component: str) -> str:
    """The id of the health alert about one part of Basir."""
    return f"{HEALTH}.{component}"


def on_health(
    reds: dict[str, dict[str, list[str]]],
    existing: dict[str, AlertRecord | None],
    silences: list[Silence],
    now: float,
) -> list[AlertRecord]:
    """Health alerts to fire or resolve.

    `reds` maps each red part to its reasons by language (`{"en": [...], "ar": [...]}`);
    `existing` the stored alert of each part in `HEALTH_ALERTED` (or None).
    """
    changes: list[AlertRecord] = []
    for component in HEALTH_ALERTED:
        alert = existing.get(component)
        firing = alert is not None and alert.state == FIRING
        if component in reds and not firing:
            fired = AlertRecord(
                id=health_alert_id(component),
                rule=HEALTH,
                state=FIRING,
                severity=SEVERITY_ERROR,
                workflow=None,
                run_id=None,
                fired_at=now,
                updated_at=now,
                data={"component": component, "reasons": reds[component]},
            )
            fired.silenced_by = silencing(fired, silences, now)
            changes.append(fired)
        elif component not in reds and alert is not None and firing:
            changes.append(
                dataclasses.replace(alert, state=RESOLVED, resolved_at=now, updated_at=now)
            )
    return changes


def stall_after_s(interval_s: float) -> float:
    """How late rule evaluation may be before `alerting_stalled` fires."""
    return max(MIN_STALL_S, STALL_FACTOR * interval_s)


def on_stall(
    stalled: bool,
    last: float | None,
    existing: AlertRecord | None,
    silences: list[Silence],
    now: float,
) -> list[AlertRecord]:
    """Fire `alerting_stalled` when evaluation is late (`last`: its last pass); resolve after."""
    firing = existing is not None and existing.state == FIRING
    if stalled and not firing:
        fired = AlertRecord(
            id=ALERTING_STALLED,
            rule=ALERTING_STALLED,
            state=FIRING,
            severity=SEVERITY_ERROR,
            workflow=None,
            run_id=None,
            fired_at=now,
            updated_at=now,
            data={"last_evaluated_at": last},
        )
        fired.silenced_by = silencing(fired, silences, now)
        return [fired]
    if not stalled and existing is not None and firing:
        return [dataclasses.replace(existing, state=RESOLVED, resolved_at=now, updated_at=now)]
    return []


def _custom_message(alert: AlertRecord) -> str:
    texts = alert.data.get("messages")
    text = ""
    if isinstance(texts, dict):
        text = str(texts.get(current_locale()) or texts.get("en") or "")
    if alert.state == RESOLVED:
        return _("resolved: {message}", message=text)
    return text


def short_duration(seconds: float) -> str:
    """`45s`, `12m`, `3h`: the duration syntax of the specs, rounded down."""
    if seconds < 120:
        return f"{int(seconds)}s"
    if seconds < 7200:
        return f"{int(seconds // 60)}m"
    return f"{int(seconds // 3600)}h"


def _overdue_message(alert: AlertRecord) -> str:
    if alert.state == RESOLVED:
        return _(
            "run {run_id} of workflow {workflow} has ended (it ran longer than usual)",
            run_id=alert.run_id,
            workflow=alert.workflow,
        )
    return _(
        "run {run_id} of workflow {workflow} has been running for {elapsed}, longer than its "
        "usual {p95} (p95 of the last week)",
        run_id=alert.run_id,
        workflow=alert.workflow,
        elapsed=short_duration(float(alert.data.get("elapsed_s") or 0)),
        p95=short_duration(float(alert.data.get("usual_p95_s") or 0)),
    )


def _store_slow_message(alert: AlertRecord) -> str:
    if alert.state == RESOLVED:
        return _("the store commits quickly again")
    average = float(alert.data.get("average_commit_s") or 0)
    return _(
        "the store is slow: commits took {seconds} s on average ({count} commits)",
        seconds=f"{average:.2f}",
        count=int(alert.data.get("commits") or 0),
    )


def _task_overdue_message(alert: AlertRecord) -> str:
    task = alert.data.get("task_id")
    if alert.state == RESOLVED:
        return _(
            "task {task} of run {run_id} ({workflow}) is no longer running (it ran longer "
            "than usual)",
            task=task,
            run_id=alert.run_id,
            workflow=alert.workflow,
        )
    return _(
        "task {task} of run {run_id} ({workflow}) has been running for {elapsed}, longer than "
        "its usual {p95} (p95 of the last week)",
        task=task,
        run_id=alert.run_id,
        workflow=alert.workflow,
        elapsed=short_duration(float(alert.data.get("elapsed_s") or 0)),
        p95=short_duration(float(alert.data.get("usual_p95_s") or 0)),
    )


def _stall_message(alert: AlertRecord) -> str:
    if alert.state == RESOLVED:
        return _("alert rules are evaluated again")
    return _("alert rules have not been evaluated for a while: alerting is stalled")


def _health_message(alert: AlertRecord) -> str:
    component = str(alert.data.get("component"))
    names = {
        "store": _("the store"),
        "scheduler": _("the scheduler"),
        "queues": _("the queues"),
        "disk": _("the disk"),
    }
    name = names.get(component, component)
    if alert.state == RESOLVED:
        return _("{component} is healthy again", component=name)
    reasons = alert.data.get("reasons")
    found = reasons.get(current_locale()) or reasons.get("en") if isinstance(reasons, dict) else []
    return _("{component} is red: {reasons}", component=name, reasons="; ".join(found or []))


def _route_message(alert: AlertRecord) -> str:
    route = alert.data.get("route")
    if alert.state == RESOLVED:
        return _("notifications through route {route} are delivered again", route=route)
    return _(
        "notifications through route {route} fail: {error}",
        route=route,
        error=alert.data.get("error") or "-",
    )


def _deadline_message(alert: AlertRecord) -> str:
    if alert.state == RESOLVED:
        return _(
            "run {run_id} of workflow {workflow} has ended (it had missed its deadline)",
            run_id=alert.run_id,
            workflow=alert.workflow,
        )
    return _(
        "run {run_id} of workflow {workflow} missed its deadline",
        run_id=alert.run_id,
        workflow=alert.workflow,
    )


def _worker_lost_message(alert: AlertRecord) -> str:
    if alert.state == RESOLVED:
        return _(
            "run {run_id} of workflow {workflow} has ended (it had lost its worker)",
            run_id=alert.run_id,
            workflow=alert.workflow,
        )
    return _(
        "run {run_id} of workflow {workflow} lost the worker running task {task} (a crash or"
        " a kill); its interrupted tasks were queued again",
        run_id=alert.run_id,
        workflow=alert.workflow,
        task=alert.data.get("task") or "-",
    )


def message(alert: AlertRecord) -> str:
    """What the alert says, in the current language."""
    if alert.rule == DEADLINE_MISSED:
        return _deadline_message(alert)
    if alert.rule == WORKER_LOST:
        return _worker_lost_message(alert)
    if alert.rule == NOTIFICATION_FAILING:
        return _route_message(alert)
    if alert.rule == HEALTH:
        return _health_message(alert)
    if alert.rule == ALERTING_STALLED:
        return _stall_message(alert)
    if alert.rule == RUN_OVERDUE:
        return _overdue_message(alert)
    if alert.rule == TASK_OVERDUE:
        return _task_overdue_message(alert)
    if alert.rule == STORE_SLOW:
        return _store_slow_message(alert)
    if alert.data.get("kind") == "custom":
        return _custom_message(alert)
    error = render_message(str(alert.data.get("error") or ""))  # a stored error: this language
    if alert.state == RESOLVED:
        return _(
            "workflow {workflow} succeeds again (run {run_id} had failed)",
            workflow=alert.workflow,
            run_id=alert.run_id,
        )
    if error:
        return _(
            "run {run_id} of workflow {workflow} failed: {error}",
            run_id=alert.run_id,
            workflow=alert.workflow,
            error=error,
        )
    return _(
        "run {run_id} of workflow {workflow} failed", run_id=alert.run_id, workflow=alert.workflow
    )


def messages(alert: AlertRecord) -> dict[str, str]:
    """The alert's message in English and in Arabic (for events and notifications)."""
    found: dict[str, str] = {}
    for lang in ("en", "ar"):
        with use_locale(lang):
            found[lang] = message(alert)
    return found
