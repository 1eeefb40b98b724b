"""A panel's chart data from the metric history: the window, then columns uPlot draws.

Pure apart from `load`: the window comes from the panel's `window` and `step`, the points
from the store at the resolution the history query would choose, and `columns` aligns the
series on one time axis (None where a series has no point: uPlot leaves a gap).
"""

from __future__ import annotations

import time
from typing import Any

from basir.boards.model import Panel, step_seconds, window_seconds
from basir.monitoring.history_query import Series, Window, pick_resolution, series_of
from basir.store.base import MetricStore

MAX_SERIES = 10


def panel_window(panel: Panel, now: float) -> Window:
    """The `[now - window, now]` range and the step of a (validated) panel."""
    span = window_seconds(panel.window)
    return Window(now - span, now, step_seconds(panel.step, span))


def series_label(labels: dict[str, str], fallback: str = "—") -> str:
    """A short legend text: `k=v, k=v`, or `fallback` (the metric's name) without labels."""
    if not labels:
        return fallback
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))


def columns(found: list[Series], limit: int = MAX_SERIES, name: str = "—") -> dict[str, Any]:
    """`{time, series, values, latest, more}`: the first `limit` series on one time axis.

    `values[i][j]` is series `i` at `time[j]`; `latest[i]` its newest value (the stat
    panel's figure); `more` how many series were left out.
    """
    shown = found[:limit]
    times = sorted({point[0] for s in shown for point in s.points})
    values = []
    latest: list[float | None] = []
    for s in shown:
        by_time = {point[0]: point[1] for point in s.points}
        values.append([by_time.get(t) for t in times])
        latest.append(s.points[-1][1] if s.points else None)
    return {
        "time": times,
        "series": [series_label(s.labels, name) for s in shown],
        "values": values,
        "latest": latest,
        "more": max(0, len(found) - limit),
    }


async def load(store: MetricStore, panel: Panel, now: float | None = None) -> dict[str, Any]:
    """A panel's data now: its columns plus the chart type and the window's start and end."""
    now = time.time() if now is None else now
    window = panel_window(panel, now)
    resolution = pick_resolution(window, now)
    points = await store.metrics_rows(panel.metric, resolution, window.start, window.end)
    data = columns(series_of(points, window.step_s, panel.by), name=panel.metric)
    return {
        **data,
        "chart": panel.chart,
        "start": window.start,
        "end": window.end,
        "step": window.step_s,
    }


def panel_of(document: dict[str, Any]) -> Panel:
    """A stored panel document as a `Panel` (stored panels were validated when saved)."""
    title = document.get("title") or {}
    return Panel(
        metric=str(document["metric"]),
        chart=str(document["chart"]),
        window=str(document["window"]),
        title=dict(title) if isinstance(title, dict) else {},
        step=document.get("step"),
        by=document.get("by"),
    )
