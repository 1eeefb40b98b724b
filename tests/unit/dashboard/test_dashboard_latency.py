"""The overview's p95 scheduling latency: histogram quantiles over the last hour."""

from __future__ import annotations

import math

from basir.dashboard import latency

INF = math.inf


def test_the_quantile_interpolates_inside_the_bucket_holding_the_rank() -> None:
    # 100 observations: 50 up to 10 ms, 40 more up to 20 ms, 10 more up to 100 ms.
    now = [(0.01, 50.0), (0.02, 90.0), (0.1, 100.0), (INF, 100.0)]
    assert latency.quantile(0.5, now, None) == 0.01
    assert math.isclose(latency.quantile(0.95, now, None) or 0, 0.06)
    assert latency.quantile(0.95, [(0.01, 0.0), (INF, 0.0)], None) is None


def test_the_quantile_counts_only_what_came_after_the_baseline() -> None:
    then = [(0.01, 0.0), (0.02, 0.0), (0.1, 100.0), (INF, 100.0)]  # an hour ago: all slow
    now = [(0.01, 10.0), (0.02, 10.0), (0.1, 110.0), (INF, 110.0)]  # since: 10 fast ones
    assert latency.quantile(0.95, now, then) == 0.0095
    # Beyond the last finite bucket, the quantile is that bucket's bound.
    assert latency.quantile(0.95, [(5.0, 0.0), (INF, 3.0)], None) == 5.0


def test_snapshots_are_kept_a_minute_apart_for_an_hour() -> None:
    snapshots: list[tuple[float, latency.Buckets]] = []
    baselines = []
    for minute in range(0, 130):
        taken = minute * 60.0
        buckets = [(0.01, float(minute)), (INF, float(minute))]
        snapshots, baseline = latency.remember(snapshots, buckets, taken)
        baselines.append(baseline)
        snapshots, _again = latency.remember(snapshots, buckets, taken + 1)  # same minute
    assert baselines[59] is None  # less than an hour: counted from the server's start
    assert baselines[60] == [(0.01, 0.0), (INF, 0.0)]
    assert baselines[129] == [(0.01, 69.0), (INF, 69.0)]
    assert len(snapshots) <= 62
