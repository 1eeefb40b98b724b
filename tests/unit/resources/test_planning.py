"""Bottleneck figures and forecasts from history points: pure functions, exact numbers."""

from __future__ import annotations

import pytest

from basir.resources.planning import (
    DAY_S,
    HOUR_S,
    PoolHistory,
    analyse_pool,
    bottlenecks,
    daily_peak_offset,
    forecast_pool,
    increase,
    linear_fit,
    percentile,
    utilisation,
)


def test_increase_sums_rises_and_treats_a_drop_as_a_restart() -> None:
    assert increase([(0, 10), (1, 15), (2, 15), (3, 40)]) == 30
    assert increase([(0, 100), (1, 120), (2, 5), (3, 8)]) == 20 + 5 + 3
    assert increase([]) == 0 and increase([(0, 7)]) == 0


def test_percentile_by_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.95) == 95
    assert percentile(values, 1.0) == 100
    assert percentile([3.0], 0.5) == 3
    assert percentile([], 0.95) == 0


def test_utilisation_uses_the_capacity_known_at_each_time() -> None:
    held = [(10, 1), (20, 2), (30, 2)]
    capacity = [(0, 2), (25, 4)]
    assert utilisation(held, capacity) == [(10, 0.5), (20, 1.0), (30, 0.5)]
    assert utilisation(held, []) == []  # no capacity known: nothing to divide by


def test_analyse_pool_reports_wait_and_utilisation() -> None:
    window = 3600.0
    pool = PoolHistory(
        "gradle",
        2,
        in_use=[(t, 2.0 if t < 1800 else 1.0) for t in range(0, 3600, 60)],
        capacities=[(0, 2)],
        wait_total=[(0, 0), (1800, 1800), (3540, 2460)],
    )
    figures = analyse_pool(pool, window)
    assert figures["waited_s"] == 2460
    assert figures["mean_waiting"] == round(2460 / 3600, 3)
    assert figures["utilisation_mean"] == 0.75
    assert figures["utilisation_peak"] == 1.0
    assert figures["utilisation_p95"] == 1.0
    assert figures["in_use_p95"] == 2.0
    assert figures["samples"] == 60


def test_bottlenecks_are_pools_waited_for_longest_first() -> None:
    pools = [
        {"pool": "cpu", "waited_s": 10.0},
        {"pool": "gpu", "waited_s": 0.0},
        {"pool": "gradle", "waited_s": 2460.0},
    ]
    assert [p["pool"] for p in bottlenecks(pools)] == ["gradle", "cpu"]


def test_linear_fit_recovers_a_line() -> None:
    slope, intercept = linear_fit([(t, 0.1 + 0.002 * t) for t in range(0, 100, 5)])
    assert slope == pytest.approx(0.002)
    assert intercept == pytest.approx(0.1)
    assert linear_fit([(5, 0.3)]) == (0.0, 0.3)
    assert linear_fit([]) == (0.0, 0.0)


def test_daily_peak_needs_the_same_hour_on_two_days() -> None:
    base = [(d * DAY_S + h * HOUR_S, 0.5) for d in range(3) for h in range(24)]
    busy = [(t, v + 0.3 if int(t % DAY_S // HOUR_S) == 14 else v) for t, v in base]
    slope, intercept = linear_fit(busy)
    assert daily_peak_offset(busy, slope, intercept) == pytest.approx(0.3 - 0.3 / 24, abs=1e-3)
    spike = [(t, v + 0.3 if t == 14 * HOUR_S else v) for t, v in base]  # one day only
    slope, intercept = linear_fit(spike)
    assert daily_peak_offset(spike, slope, intercept) < 0.3 / 3


def test_forecast_of_a_rising_pool_says_when_it_saturates() -> None:
    # Utilisation grows 0.1 per day from 0.2: at its (flat) daily profile, 100% in 8 days.
    ratios = [(t, 0.2 + 0.1 * t / DAY_S) for t in range(0, int(DAY_S), 600)]
    now = DAY_S
    result = forecast_pool("gradle", ratios, now, 2, scale=2)
    assert result["trend_per_day"] == pytest.approx(0.1, rel=1e-3)
    assert result["utilisation_now"] == pytest.approx(0.3, rel=1e-3)
    assert result["saturates_in_s"] == pytest.approx(7 * DAY_S, rel=1e-2)
    assert result["needed_capacity"] == pytest.approx(2 * 2 * max(v for _t, v in ratios), abs=1e-3)


def test_forecast_of_a_flat_or_full_pool() -> None:
    flat = [(float(t), 0.4) for t in range(0, 7200, 60)]
    assert forecast_pool("cpu", flat, 7200, 2)["saturates_in_s"] is None
    full = [(float(t), 1.0) for t in range(0, 7200, 60)]
    assert forecast_pool("cpu", full, 7200, 2)["saturates_in_s"] == 0
    assert forecast_pool("cpu", [], 7200, 2)["saturates_in_s"] is None
