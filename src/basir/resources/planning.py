"""Bottlenecks and capacity planning from the metric history: pure functions over points.

Inputs are `(time, value)` points of the pool series (`basir_pool_capacity`, `_in_use`,
`_wait_seconds_total`) and per-task usage profiles; outputs are plain dicts the API and CLI
show.  Nothing here reads a clock or a store.

The forecast is deliberately simple and explainable: a least-squares line through a pool's
utilisation (held / capacity) plus the largest daily seasonal offset (the mean residual of the
busiest hour of the day), extrapolated to 100 %.  No forecasting library: with a handful of
series of at most a few thousand points, a line and an hour-of-day profile say what an operator
can act on ("saturates in about 6 days at its daily peak"), and anything heavier (Prophet,
statsmodels) would add hundreds of megabytes for a precision the data cannot support.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

Point = tuple[float, float]
DAY_S = 86400.0
HOUR_S = 3600.0


def increase(points: Sequence[Point]) -> float:
    """How much a counter rose over `points` (oldest first); a drop is a restart from zero."""
    total = 0.0
    for (_t0, before), (_t1, after) in itertools.pairwise(points):
        total += after - before if after >= before else after
    return total


def percentile(values: Sequence[float], q: float) -> float:
    """The `q` quantile (0..1) of `values` by nearest rank; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, math.ceil(q * len(ordered)) - 1)
    return ordered[min(rank, len(ordered) - 1)]


def utilisation(in_use: Sequence[Point], capacity: Sequence[Point]) -> list[Point]:
    """Held / capacity at each `in_use` time, with the latest capacity known then (0 skipped)."""
    caps = sorted(capacity)
    ratios: list[Point] = []
    index, current = 0, 0.0
    for moment, held in sorted(in_use):
        while index < len(caps) and caps[index][0] <= moment:
            current = caps[index][1]
            index += 1
        cap = current if current > 0 else (caps[0][1] if caps else 0.0)
        if cap > 0:
            ratios.append((moment, held / cap))
    return ratios


@dataclass(frozen=True, slots=True)
class PoolHistory:
    """What the history holds about one pool over the window."""

    name: str
    capacity: float  # now
    in_use: Sequence[Point] = ()
    capacities: Sequence[Point] = ()
    wait_total: Sequence[Point] = ()


def analyse_pool(pool: PoolHistory, window_s: float) -> dict[str, float | str | int]:
    """One pool's figures: seconds waited for it, mean waiting tasks, utilisation mean/p95/peak."""
    ratios = [value for _t, value in utilisation(pool.in_use, pool.capacities)]
    waited = increase(pool.wait_total)
    held = [value for _t, value in pool.in_use]
    return {
        "pool": pool.name,
        "capacity": pool.capacity,
        "waited_s": round(waited, 3),
        "mean_waiting": round(waited / window_s, 3) if window_s > 0 else 0.0,
        "utilisation_mean": round(sum(ratios) / len(ratios), 4) if ratios else 0.0,
        "utilisation_p95": round(percentile(ratios, 0.95), 4),
        "utilisation_peak": round(max(ratios, default=0.0), 4),
        "in_use_p95": round(percentile(held, 0.95), 3),
        "samples": len(ratios),
    }


def bottlenecks(
    analyses: Sequence[dict[str, float | str | int]],
) -> list[dict[str, float | str | int]]:
    """Pools tasks waited for, the longest total wait first (pools nobody waited for left out)."""
    waited = [a for a in analyses if float(a["waited_s"]) > 0]
    return sorted(waited, key=lambda a: (-float(a["waited_s"]), str(a["pool"])))


def linear_fit(points: Sequence[Point]) -> tuple[float, float]:
    """Least-squares `(slope per second, value at t = 0)`; a flat line through one point."""
    n = len(points)
    if n == 0:
        return 0.0, 0.0
    mean_t = sum(t for t, _v in points) / n
    mean_v = sum(v for _t, v in points) / n
    spread = sum((t - mean_t) ** 2 for t, _v in points)
    if spread == 0:
        return 0.0, mean_v
    slope = sum((t - mean_t) * (v - mean_v) for t, v in points) / spread
    return slope, mean_v - slope * mean_t


def daily_peak_offset(points: Sequence[Point], slope: float, intercept: float) -> float:
    """How far above the trend the busiest hour of the day runs on average (0 if none above).

    The mean residual per UTC hour of day; only hours seen on at least two distinct days count,
    so a single spike is not taken for a daily pattern.
    """
    sums: dict[int, float] = {}
    days: dict[int, set[int]] = {}
    counts: dict[int, int] = {}
    for moment, value in points:
        hour = int(moment % DAY_S // HOUR_S)
        sums[hour] = sums.get(hour, 0.0) + value - (slope * moment + intercept)
        counts[hour] = counts.get(hour, 0) + 1
        days.setdefault(hour, set()).add(int(moment // DAY_S))
    offsets = [sums[h] / counts[h] for h in sums if len(days[h]) >= 2]
    return max(0.0, max(offsets, default=0.0))


def forecast_pool(
    name: str, ratios: Sequence[Point], now: float, capacity: float, scale: float | None = None
) -> dict[str, float | str | None]:
    """When a pool saturates at the current trend (its daily peak included), and what a `scale`
    times larger load would need.

    `saturates_in_s` is None when utilisation is flat or falling (or there is too little
    history), 0 when the peak already reaches capacity.
    """
    slope, intercept = linear_fit(ratios)
    peak = daily_peak_offset(ratios, slope, intercept)
    level = slope * now + intercept if ratios else 0.0
    eta: float | None = None
    if len(ratios) >= 2:
        if level + peak >= 1.0:
            eta = 0.0
        elif slope > 0:
            eta = (1.0 - peak - level) / slope
    result: dict[str, float | str | None] = {
        "pool": name,
        "capacity": capacity,
        "utilisation_now": round(max(0.0, level), 4),
        "trend_per_day": round(slope * DAY_S, 6),
        "daily_peak_offset": round(peak, 4),
        "saturates_in_s": None if eta is None else round(eta, 1),
        "saturates_at": None if eta is None else round(now + eta, 1),
    }
    if scale is not None:
        peak_ratio = max((v for _t, v in ratios), default=0.0)
        result["scale"] = scale
        result["needed_capacity"] = round(capacity * peak_ratio * scale, 3)
    return result


@dataclass(frozen=True, slots=True)
class TaskProfile:
    """What a task declares and what it used over the window (cpu in cores, memory in bytes)."""

    workflow: str
    task: str
    declared_cpu: float | None
    declared_memory: int | None
    cpu_p95: float
    memory_peak: float
    samples: int
