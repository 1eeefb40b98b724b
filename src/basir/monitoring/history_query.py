"""Reading the metric history: parse a query, choose a resolution, bucket and group points.

Pure functions: the route parses `from`, `to` and `step`, asks the store for the points of
the chosen resolution, and `series_of` turns them into one series per label set (or per
value of the `by` label, summing the series that share it).  Within a step a series
contributes its last value, which is exact for counters and a fair sample for gauges.
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import groupby, repeat
from typing import Any

from basir.errors import BasirError
from basir.i18n import _
from basir.monitoring.history import HOUR_S, MINUTE_S, RAW_S, RETENTION_S
from basir.spec.units import parse_duration
from basir.store.records import MetricPoint

DEFAULT_RANGE_S = 3600.0
MIN_STEP_S = 10
MAX_POINTS_PER_SERIES = 11_000
# The latest moment a query may name (9999-12-31T23:59:59Z); the earliest is 1970.  Past them a
# time has no ISO 8601 form here, and `nan` or `inf` would match nothing or fail to print.
MAX_EPOCH_S = 253_402_300_799.0
_STEP = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_LABELS = operator.itemgetter(0)


@dataclass(frozen=True, slots=True)
class Window:
    """A validated query window: `[start, end]` in epoch seconds and a step in seconds."""

    start: float
    end: float
    step_s: int


@dataclass(slots=True)
class Series:
    """One series of the answer: its labels and `[time, value]` points, oldest first."""

    labels: dict[str, str]
    points: list[list[float]] = field(default_factory=list)


def bad_query(field_name: str, message: str) -> BasirError:
    """A `metrics.bad_query` error located at `query.<field_name>`."""
    return BasirError(
        "metrics.bad_query",
        _("this metric query is not valid"),
        details=[{"field": f"query.{field_name}", "message": message}],
    )


def bounded(moment: float, field_name: str) -> float:
    """`moment` when it is a time from 1970 to `MAX_EPOCH_S`, else a located error."""
    if not 0 <= moment <= MAX_EPOCH_S:  # also False for nan
        raise bad_query(field_name, _("this time is out of range: use one between 1970 and 9999"))
    return moment


def parse_time(text: str, field_name: str) -> float:
    """Epoch seconds from epoch seconds or an ISO 8601 time (UTC when it names no zone)."""
    try:
        return bounded(float(text), field_name)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise bad_query(
            field_name, _("not an ISO 8601 time, epoch seconds or a duration such as 7d")
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return bounded(moment.timestamp(), field_name)


def parse_step(text: str) -> int:
    """Seconds from `60`, `60s`, `5m`, `1h` or `1d`; at least `MIN_STEP_S`."""
    match = _STEP.match(text)
    if match is None:
        raise bad_query("step", _("not a step such as 60s, 5m or 1h"))
    seconds = int(float(match.group(1)) * _UNIT_S[match.group(2)])
    if seconds < MIN_STEP_S:
        raise bad_query("step", _("the step must be at least {n} seconds", n=MIN_STEP_S))
    return seconds


def parse_moment(text: str, field_name: str, now: float) -> float:
    """Like `parse_time`, and also a duration ago: `24h` is a day before `now`."""
    try:
        return bounded(now - parse_duration(text.strip()), field_name)
    except ValueError:
        return parse_time(text, field_name)


def parse_window(start: str | None, end: str | None, step: str | None, now: float) -> Window:
    """The window of a query; `to` defaults to now, `from` to an hour before `to`."""
    until = parse_moment(end, "to", now) if end else now
    since = parse_moment(start, "from", now) if start else until - DEFAULT_RANGE_S
    if since > until:
        raise bad_query("from", _("from must not be after to"))
    span = until - since
    step_s = parse_step(step) if step else max(MIN_STEP_S, math.ceil(span / 300))
    if span / step_s > MAX_POINTS_PER_SERIES:
        raise bad_query("step", _("too many points: use a larger step or a shorter range"))
    return Window(since, until, step_s)


def pick_resolution(window: Window, now: float) -> int:
    """The finest resolution that still covers the window's start and is not finer than the step."""
    if window.step_s < MINUTE_S and window.start >= now - RETENTION_S[RAW_S]:
        return RAW_S
    if window.step_s < HOUR_S and window.start >= now - RETENTION_S[MINUTE_S]:
        return MINUTE_S
    return HOUR_S


PointRow = tuple[str, float, float]  # (labels, time, value), as `Store.metrics_rows` reads them


def _buckets(rows: Sequence[PointRow], step_s: int) -> dict[str, dict[int, float]]:
    """`{labels: {bucket start: last value}}`, each series' buckets in time order.

    Columns at a time, in C (`zip`, `map`, `dict`), not a Python step per point: the rows
    of one series are split into columns, each time becomes its bucket's start, and
    `dict(zip(starts, values))` keeps the last value of a bucket.  Several series are first
    put together by a stable sort on the labels (time order within each is kept)."""
    if not rows:
        return {}
    first = rows[0][0]
    columns = tuple(zip(*rows, strict=True))
    groups: Iterable[tuple[str, tuple[tuple[Any, ...], ...]]]
    if columns[0].count(first) == len(rows):  # one series: no sort
        groups = ((first, columns),)
    else:
        groups = (
            (labels, tuple(zip(*series, strict=True)))
            for labels, series in groupby(sorted(rows, key=_LABELS), _LABELS)
        )
    per_series: dict[str, dict[int, float]] = {}
    for labels, (_labels, times, values) in groups:
        starts = map(int, map(operator.sub, times, map(operator.mod, times, repeat(step_s))))
        per_series[labels] = dict(zip(starts, values, strict=True))
    return per_series


def series_of(
    points: Sequence[PointRow] | Sequence[MetricPoint], step_s: int, by: str | None
) -> list[Series]:
    """`series_buckets` as `Series` of `[start, value]` points."""
    return [
        Series(labels, list(map(list, buckets.items())))
        for labels, buckets in series_buckets(points, step_s, by)
    ]


def series_buckets(
    points: Sequence[PointRow] | Sequence[MetricPoint], step_s: int, by: str | None
) -> list[tuple[dict[str, str], dict[int, float]]]:
    """Bucket points by `step_s` (last value per series and bucket), then group by `by`:
    `(labels, {bucket start: value})` per series, buckets in time order.

    Without `by`, every label set is its own series; with it, the series sharing a value of
    label `by` are summed into one (labelled `{by: value}`, `""` when a series lacks it).
    `points` are `(labels, time, value)` rows (or `MetricPoint`s) in time order within each
    series (the store's order: by time, or by series and time), so a later point in a bucket
    wins and each series' buckets arrive in time order (no sort needed).  Bucket starts are
    whole seconds (the step is), written as integers.  This is the hot loop of
    `GET /api/v1/metrics/query` (a week of minutes is 10,080 points per series), hence the
    work by columns in `_buckets` (bench/monitoring_bench.py).
    """
    rows: Sequence[PointRow]
    if points and isinstance(points[0], MetricPoint):
        rows = [(p.labels, p.time, p.value) for p in points]  # type: ignore[union-attr]
    else:
        rows = points  # type: ignore[assignment]
    per_series = _buckets(rows, step_s)
    if not by:
        return [(json.loads(key), per_series[key]) for key in sorted(per_series)]
    grouped: dict[str, dict[int, float]] = {}
    for labels_json, found in per_series.items():
        key = str(json.loads(labels_json).get(by, ""))
        target = grouped.get(key)
        if target is None:
            grouped[key] = dict(found)
            continue
        for start, value in found.items():
            target[start] = target.get(start, 0.0) + value
    return [({by: key}, dict(sorted(grouped[key].items()))) for key in sorted(grouped)]
