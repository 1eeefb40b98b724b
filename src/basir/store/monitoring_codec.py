"""Monitoring records ⇄ rows (metric points, alerts), free of SQLAlchemy like `store.codec`.

Shared by every store; the statements themselves are in `metric_queries` and
`alert_queries`, compiled for SQLite into the shipped catalogue.
"""

from __future__ import annotations

import dataclasses
import operator
from typing import Any

from basir.store import codec
from basir.store.records import AlertRecord, MetricPoint

POINT_COLUMNS = ("name", "resolution_s", "labels", "time", "value")
# What `select_points` returns: name and resolution are the query's own parameters, so they
# are not read back (two fewer columns per row is a third of a week's query; the bench).
POINT_READ_COLUMNS = ("labels", "time", "value")
LABELS_OF = operator.itemgetter(0)  # a point row's labels (the sort key of a series)
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
