"""The public shape of an alert: the API's, `basir alerts list`'s (on a server or the embedded
store), one function for both."""

from __future__ import annotations

from typing import Any

from basir.engine.report import iso
from basir.monitoring.alert_rules import message
from basir.store.records import AlertRecord


def alert_view(alert: AlertRecord) -> dict[str, Any]:
    """The public shape of an alert (its message in the active language)."""
    return {
        "id": alert.id,
        "rule": alert.rule,
        "state": alert.state,
        "severity": alert.severity,
        "workflow": alert.workflow,
        "run_id": alert.run_id,
        "message": message(alert),
        "fired_at": iso(alert.fired_at),
        "resolved_at": iso(alert.resolved_at),
        "acknowledged_by": alert.acked_by,
        "acknowledged_at": iso(alert.acked_at),
        "silenced_by": alert.silenced_by,
    }
