"""Monitoring records ⇄ rows (metric points, alerts), free of SQLAlchemy like `store.codec`.

Shared by every store; the statements themselves are in `metric_queries` and
`alert_queries`, compiled for SQLite into the shipped catalogue.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from basir.store import codec
from basir.store.records import AlertRecord, MetricPoint

POINT_COLUMNS = ("name", "resolution_s", "labels", "time", "value")
# The order `select_points` returns: that of `MetricPoint`'s fields, so a row decodes directly.
POINT_READ_COLUMNS = ("name", "labels", "resolution_s", "time", "value")
ALERT_COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(AlertRecord))
_DATA = ALERT_COLUMNS.index("data")


def point_params(point: MetricPoint) -> dict[str, Any]:
    """The bind parameters of one point."""
    return {
        "name": point.name,
        "resolution_s": point.resolution_s,
        "labels": point.labels,
        "time": point.time,
        "value": point.value,
    }


def decode_point(row: Any) -> MetricPoint:
    """A `MetricPoint` from a row of `select_points` (the drivers return the right types)."""
    return MetricPoint(*row)


def alert_params(alert: AlertRecord) -> dict[str, Any]:
    """The bind parameters of one alert (its data as JSON text)."""
    values = {n: getattr(alert, n) for n in ALERT_COLUMNS}
    values["data"] = codec.dumps(alert.data)
    return values


def decode_alert(row: Any) -> AlertRecord:
    """An `AlertRecord` from a row in `ALERT_COLUMNS` order."""
    values = list(row)
    values[_DATA] = codec.loads(values[_DATA]) if values[_DATA] else {}
    return AlertRecord(*values)
