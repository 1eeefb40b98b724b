"""The built-in "run failed" rule and silences, as pure decisions."""

from __future__ import annotations

import dataclasses

from basir.i18n import use_locale
from basir.i18n.deferred import labelled, lazy, stored_error
from basir.monitoring.alert_rules import (
    FIRING,
    HEALTH_ALERTED,
    RESOLVED,
    Silence,
    message,
    messages,
    on_deadline_event,
    on_health,
    on_notification_event,
    on_run_event,
    on_worker_lost_event,
)
from basir.store.records import AlertRecord, EventRecord

NOW = 1_800_000_000.0


def ev(kind: str, run_id: str = "r1", workflow: str = "ci", event_id: int = 7) -> EventRecord:
    """A run event as the engine records it."""
    return EventRecord(
        type=kind,
        subject=f"runs/{run_id}",
        time=NOW,
        run_id=run_id,
        workflow=workflow,
        id=event_id,
    )


def test_a_final_failure_fires_once() -> None:
    (fired,) = on_run_event(ev("run.failed"), None, [], "exit 1", [], NOW + 1)
    assert (fired.id, fired.state, fired.workflow, fired.run_id) == (
        "run_failed.r1",
        FIRING,
        "ci",
        "r1",
    )
    assert fired.fired_at == NOW and fired.data["error"] == "exit 1" and fired.silenced_by is None
    # The same event replayed (restart), or the run failing again after a retry: no second alert.
    assert on_run_event(ev("run.failed"), fired, [], "exit 1", [], NOW + 2) == []


def test_other_events_never_fire() -> None:
    for kind in ("task.failed", "task.retrying", "run.retried", "run.cancelled", "run.started"):
        assert on_run_event(ev(kind), None, [], None, [], NOW) == []


def test_success_of_the_workflow_resolves_its_firing_alerts() -> None:
    (a,) = on_run_event(ev("run.failed", "r1"), None, [], None, [], NOW)
    (b,) = on_run_event(ev("run.failed", "r2"), None, [], None, [], NOW)
    resolved = on_run_event(ev("run.succeeded", "r3"), None, [a, b], None, [], NOW + 5)
    assert [(r.id, r.state, r.resolved_at) for r in resolved] == [
        ("run_failed.r1", RESOLVED, NOW),
        ("run_failed.r2", RESOLVED, NOW),
    ]
    # A run whose alert was resolved fires again when it fails again.
    (again,) = on_run_event(ev("run.failed", "r1"), resolved[0], [], None, [], NOW + 9)
    assert again.state == FIRING and again.resolved_at is None


def test_a_matching_silence_marks_the_alert() -> None:
    silence = Silence("s1", {"workflow": "ci"}, NOW + 60, "admin", "deploying", NOW)
    other = Silence("s2", {"workflow": "app"}, NOW + 60, "admin", "x", NOW)
    expired = Silence("s3", {"workflow": "ci"}, NOW - 1, "admin", "old", NOW - 100)
    (fired,) = on_run_event(ev("run.failed"), None, [], None, [other, expired, silence], NOW)
    assert fired.silenced_by == "s1"
    (loud,) = on_run_event(ev("run.failed"), None, [], None, [other, expired], NOW)
    assert loud.silenced_by is None


def test_messages_in_english_and_arabic() -> None:
    (fired,) = on_run_event(ev("run.failed"), None, [], "exit 3", [], NOW)
    assert message(fired) == "run r1 of workflow ci failed: exit 3"
    both = messages(fired)
    assert both["en"] == message(fired) and "r1" in both["ar"] and both["ar"] != both["en"]
    resolved = dataclasses.replace(fired, state=RESOLVED)
    with use_locale("ar"):
        assert "ci" in message(resolved)
    bare = dataclasses.replace(fired, data={})
    assert message(bare) == "run r1 of workflow ci failed"
    assert isinstance(fired, AlertRecord)


def test_a_quoted_error_reads_in_the_language_of_each_message() -> None:
    error = labelled("build", stored_error(lazy("exited with code {code}", code=3), "oops"))
    (fired,) = on_run_event(ev("run.failed"), None, [], error, [], NOW)
    both = messages(fired)  # a route sends the one of its own language
    assert both["en"] == "run r1 of workflow ci failed: build: exited with code 3\noops"
    assert "build: انتهى برمز الخروج 3\noops" in both["ar"] and "exited" not in both["ar"]


def test_a_missed_deadline_fires_a_warning_until_the_run_ends() -> None:
    missed = dataclasses.replace(ev("deadline.missed"), data={"deadline_at": NOW - 1})
    (fired,) = on_deadline_event(missed, None, [], NOW)
    assert (fired.id, fired.severity, fired.state) == ("deadline_missed.r1", "warning", FIRING)
    assert on_deadline_event(missed, fired, [], NOW) == []  # once
    assert on_deadline_event(ev("run.started"), fired, [], NOW) == []
    for end in ("run.succeeded", "run.failed", "run.cancelled"):
        (resolved,) = on_deadline_event(ev(end), fired, [], NOW + 3)
        assert resolved.state == RESOLVED and resolved.resolved_at == NOW
    assert on_deadline_event(ev("run.succeeded"), None, [], NOW) == []
    assert "missed its deadline" in message(fired)
    silence = Silence("s1", {"rule": "deadline_missed"}, NOW + 60, "a", "b", NOW)
    assert on_deadline_event(missed, None, [silence], NOW)[0].silenced_by == "s1"


def test_a_worker_lost_at_resume_fires_once_per_run_until_the_run_ends() -> None:
    def interrupted(reason: str, task: str = "build") -> EventRecord:
        return dataclasses.replace(ev("task.interrupted"), task_id=task, data={"reason": reason})

    assert on_worker_lost_event(interrupted("shutdown"), None, [], NOW) == []
    assert on_worker_lost_event(interrupted("pause"), None, [], NOW) == []
    (fired,) = on_worker_lost_event(interrupted("interrupted"), None, [], NOW + 1)
    assert (fired.id, fired.severity, fired.state) == ("worker_lost.r1", "warning", FIRING)
    assert fired.data["task"] == "build" and fired.fired_at == NOW
    assert on_worker_lost_event(interrupted("interrupted", "test"), fired, [], NOW) == []
    with use_locale("en"):
        assert "lost the worker running task build" in message(fired)
    assert "build" in messages(fired)["ar"] and "r1" in messages(fired)["ar"]
    assert on_worker_lost_event(ev("run.started"), fired, [], NOW) == []
    for end in ("run.succeeded", "run.failed", "run.cancelled"):
        (resolved,) = on_worker_lost_event(ev(end), fired, [], NOW + 3)
        assert resolved.state == RESOLVED and resolved.resolved_at == NOW
    silence = Silence("s1", {"rule": "worker_lost"}, NOW + 60, "a", "b", NOW)
    lost = on_worker_lost_event(interrupted("interrupted"), None, [silence], NOW)
    assert lost[0].silenced_by == "s1"


def test_a_failing_route_is_an_alert_of_its_own() -> None:
    failed = EventRecord(
        type="notification.failed",
        subject="notifications/ops",
        time=NOW,
        data={"route": "ops", "error": "HTTP 502"},
        id=9,
    )
    (fired,) = on_notification_event(failed, None, [], NOW)
    assert (fired.id, fired.rule, fired.state) == (
        "notification_failing.ops",
        "notification_failing",
        FIRING,
    )
    assert "ops" in message(fired) and "HTTP 502" in message(fired)
    assert on_notification_event(failed, fired, [], NOW) == []  # no storm while it fails
    delivered = dataclasses.replace(failed, type="notification.delivered", data={"route": "ops"})
    (resolved,) = on_notification_event(delivered, fired, [], NOW + 1)
    assert resolved.state == RESOLVED and "ops" in message(resolved)
    assert on_notification_event(delivered, None, [], NOW) == []
    assert on_notification_event(dataclasses.replace(failed, data={}), None, [], NOW) == []


def test_health_alerts_fire_while_a_part_is_red() -> None:
    reds = {"disk": {"en": ["the disk is nearly full: 2.0% free"], "ar": ["القرص يكاد يمتلئ"]}}
    nothing: dict[str, AlertRecord | None] = dict.fromkeys(HEALTH_ALERTED)
    (fired,) = on_health(reds, nothing, [], NOW)
    assert (fired.id, fired.state, fired.data["component"]) == ("health.disk", FIRING, "disk")
    assert message(fired) == "the disk is red: the disk is nearly full: 2.0% free"
    with use_locale("ar"):
        assert "القرص يكاد يمتلئ" in message(fired)
    assert on_health(reds, {**nothing, "disk": fired}, [], NOW + 30) == []  # still red: once
    (resolved,) = on_health({}, {**nothing, "disk": fired}, [], NOW + 60)
    assert resolved.state == RESOLVED and message(resolved) == "the disk is healthy again"
    assert on_health({"alerts": {"en": ["x"]}}, nothing, [], NOW) == []  # not an alerted part
