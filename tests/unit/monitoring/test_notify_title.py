"""The subject line of an email or chat notification is in the route's language too."""

from __future__ import annotations

from basir.monitoring.notify import title_and_text
from basir.store.records import EventRecord


def alert_event(kind: str) -> EventRecord:
    message = {"en": "run r1 of workflow ci failed", "ar": "فشل التشغيل r1 لسير العمل ci"}
    data = {"rule": "run_failed", "severity": "error", "message": message}
    return EventRecord(kind, "alerts/run_failed.r1", 1_800_000_000.0, data)


def test_english_subject_is_unchanged() -> None:
    assert title_and_text(alert_event("alert.firing"), "en") == (
        "[Basir FIRING] ERROR run_failed",
        "run r1 of workflow ci failed",
    )
    assert title_and_text(alert_event("alert.resolved"), "en")[0] == (
        "[Basir RESOLVED] ERROR run_failed"
    )


def test_arabic_route_gets_an_arabic_subject() -> None:
    """An Arabic route's mail had an English subject (`[Basir FIRING] ERROR run_failed`)."""
    firing, text = title_and_text(alert_event("alert.firing"), "ar")
    assert text == "فشل التشغيل r1 لسير العمل ci"
    assert "FIRING" not in firing and "ERROR" not in firing
    assert "خطأ" in firing and "run_failed" in firing
    resolved, _ = title_and_text(alert_event("alert.resolved"), "ar")
    assert "RESOLVED" not in resolved and resolved != firing
