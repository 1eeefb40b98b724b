"""The metric history for `/api/v1/export/metrics`: every stored point, a slice at a time.

Points are read per metric name, per resolution (raw, per minute, per hour) and per slice of
`SLICE_STEPS` steps of that resolution, so one read holds at most the series of one name
over one slice, never the whole history.  A row is one point: `name`, `resolution_s` (0 raw,
60 per minute, 3600 per hour), `labels` (an object; JSON text in CSV and Parquet), `time`
(ISO 8601, UTC) and `value`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from basir.monitoring.history import RAW_S, RESOLUTIONS_S, RETENTION_S
from basir.store.base import Store
from basir.store.records import cloudevent_time

METRIC_COLUMNS = ("name", "resolution_s", "labels", "time", "value")
# Steps of a resolution per read: 500 minutes, 500 hours, or 5,000 s of raw samples.
SLICE_STEPS = 500
RAW_SLICE_S = 5000.0
# How far before its retention a resolution is still read: points are pruned in passes, so
# the oldest may outlive their retention for a while.
PRUNE_SLACK_S = 86400.0


def _slices(resolution_s: int, since: float, until: float, now: float) -> list[tuple[float, float]]:
    """`[start, end)` slices covering the part of the window this resolution may hold."""
    step = RAW_SLICE_S if resolution_s == RAW_S else float(resolution_s * SLICE_STEPS)
    start = max(since, now - RETENTION_S[resolution_s] - PRUNE_SLACK_S)
    slices = []
    while start < until:
        slices.append((start, min(start + step, until)))
        start += step
    return slices


def _in_workflow(labels: str, workflow: str | None) -> bool:
    return workflow is None or json.loads(labels).get("workflow") == workflow


async def metric_cells(
    store: Store,
    window: tuple[float, float, float],
    name: str | None,
    workflow: str | None,
) -> AsyncIterator[list[tuple[Any, ...]]]:
    """Pages of points as tuples in `METRIC_COLUMNS` order (`labels` as JSON text), by name,
    then resolution, then time.  `window` is `(since, until, now)`; `workflow` keeps the
    series labelled with that workflow."""
    since, until, now = window
    names = [name] if name is not None else await store.metrics_names()
    for metric in names:
        for resolution_s in RESOLUTIONS_S:
            for start, end in _slices(resolution_s, since, until, now):
                rows = await store.metrics_rows(metric, resolution_s, start, end)
                page = [
                    (metric, resolution_s, labels, cloudevent_time(moment), value)
                    for labels, moment, value in rows
                    if start <= moment < end and _in_workflow(labels, workflow)
                ]
                if page:
                    yield page


async def metric_rows(
    store: Store,
    window: tuple[float, float, float],
    name: str | None,
    workflow: str | None,
) -> AsyncIterator[list[dict[str, Any]]]:
    """The same points as JSON objects (labels an object), a page at a time."""
    async for page in metric_cells(store, window, name, workflow):
        yield [
            {
                "name": metric,
                "resolution_s": resolution_s,
                "labels": json.loads(labels),
                "time": moment,
                "value": value,
            }
            for metric, resolution_s, labels, moment, value in page
        ]
