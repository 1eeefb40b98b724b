"""The overview's p95 scheduling latency over the last hour, from the server's histogram.

`basir_schedule_latency_seconds` counts every attempt since the server started.  The
dashboard keeps a snapshot of its buckets a minute (only while someone looks at the
overview) and estimates the quantile of the difference between now and the snapshot an
hour old, as Prometheus' `histogram_quantile` does: linear within the bucket holding the
rank.  Until the server has an hour of snapshots the baseline is its start (all zeros).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from basir.dashboard.context import DashboardContext

Buckets = list[tuple[float, float]]  # (upper bound, cumulative count), +Inf last

WINDOW_S = 3600.0
SNAPSHOT_EVERY_S = 60.0
VIEW_KEY = "overview.schedule_latency"


def buckets_of(ctx: DashboardContext) -> Buckets | None:
    """The histogram's cumulative buckets now (None without the server's metrics)."""
    if ctx.metrics is None:
        return None
    found: Buckets = []
    for family in ctx.metrics.schedule_latency.collect():
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                found.append((float(sample.labels["le"]), float(sample.value)))
    return sorted(found)


def quantile(q: float, now: Sequence[tuple[float, float]], then: Buckets | None) -> float | None:
    """The `q` quantile of what was observed between `then` and `now` (None: nothing was)."""
    before = dict(then or ())
    counts = [(bound, count - before.get(bound, 0.0)) for bound, count in now]
    total = counts[-1][1] if counts else 0.0
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for bound, cumulative in counts:
        if cumulative >= rank:
            if math.isinf(bound):
                return lower
            inside = cumulative - below
            share = (rank - below) / inside if inside else 1.0
            return lower + (bound - lower) * share
        lower, below = bound, cumulative
    return lower


def remember(
    snapshots: list[tuple[float, Buckets]], buckets: Buckets, now: float
) -> tuple[list[tuple[float, Buckets]], Buckets | None]:
    """The snapshots kept (one a minute, an hour's worth) and the baseline an hour ago.

    The baseline is the newest snapshot at least `WINDOW_S` old; None (the server's start)
    while there is none.
    """
    baseline = None
    for taken, old in snapshots:
        if taken <= now - WINDOW_S:
            baseline = old
    kept = [(t, b) for t, b in snapshots if t > now - WINDOW_S - SNAPSHOT_EVERY_S]
    if not kept or now - kept[-1][0] >= SNAPSHOT_EVERY_S:
        kept.append((now, buckets))
    return kept, baseline


def p95_last_hour(ctx: DashboardContext) -> float | None:
    """The p95 scheduling latency (seconds) of the attempts started in the last hour."""
    buckets = buckets_of(ctx)
    if buckets is None:
        return None
    now = time.time()
    held = ctx.views.get(VIEW_KEY)
    snapshots: list[tuple[float, Buckets]] = held[1] if held is not None else []
    kept, baseline = remember(snapshots, buckets, now)
    ctx.views[VIEW_KEY] = (now, kept)
    return quantile(0.95, buckets, baseline)
