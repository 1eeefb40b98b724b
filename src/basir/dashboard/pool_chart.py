"""Pool use over the last hour from the built-in metric history: the resources page's chart.

Each pool's use is plotted as a share of its capacity (percent), so cores, bytes and slots
share one axis.  Pure: the page reads the points and hands them here.
"""

from __future__ import annotations

import time
from typing import Any

from basir.monitoring.history import RAW_S
from basir.monitoring.history_query import series_of
from basir.store.base import MetricStore
from basir.store.records import MetricPoint

IN_USE = "basir_pool_in_use"
CAPACITY = "basir_pool_capacity"
WINDOW_S = 3600.0
STEP_S = 60


def per_pool(points: list[MetricPoint]) -> dict[str, dict[float, float]]:
    """Points of one metric as `{pool: {minute start: last value}}`."""
    found = series_of(points, STEP_S, "pool")
    return {s.labels.get("pool", ""): {t: v for t, v in s.points} for s in found}


def usage_percent(
    in_use: dict[str, dict[float, float]], capacity: dict[str, dict[float, float]]
) -> dict[str, Any]:
    """`{time, pools, values}`: per pool and minute, in use over capacity in percent.

    `values[i][j]` is pool `pools[i]` at `time[j]`, None where a minute lacks either figure
    (uPlot leaves a gap) or the capacity is zero.
    """
    pools = sorted(name for name in in_use if name in capacity)
    times = sorted({t for name in pools for t in in_use[name]})
    values = []
    for name in pools:
        row: list[float | None] = []
        for t in times:
            used, cap = in_use[name].get(t), capacity[name].get(t)
            row.append(None if used is None or not cap else round(100.0 * used / cap, 2))
        values.append(row)
    return {"time": times, "pools": pools, "values": values}


async def has_history(store: MetricStore) -> bool:
    """Whether the history holds pool series at all (the chart is shown only then)."""
    return IN_USE in await store.metrics_names()


async def load(store: MetricStore, now: float | None = None) -> dict[str, Any]:
    """The chart's data for the last hour, per minute, with the hour's `start` and `end` (the
    chart's x range, however few points there are)."""
    now = time.time() if now is None else now
    start = now - WINDOW_S
    used = await store.metrics_query(IN_USE, RAW_S, start, now)
    capacity = await store.metrics_query(CAPACITY, RAW_S, start, now)
    return {**usage_percent(per_pool(used), per_pool(capacity)), "start": start, "end": now}
