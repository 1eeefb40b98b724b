"""The public shape of an alert: the API's, `basir alerts list`'s (on a server or the embedded
store), one function for both."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from basir.monitoring.alert_rules import message
from basir.store.records import AlertRecord


def iso(epoch: float | None) -> str | None:
    """Epoch seconds → ISO 8601 in UTC with a `Z` (None stays None)."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


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
