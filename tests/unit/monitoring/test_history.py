"""The metric history's pure parts: sampling, rollups, pruning, query windows and grouping."""

from __future__ import annotations

import json

import pytest

from basir.errors import BasirError
from basir.monitoring.history import (
    HOUR_S,
    MINUTE_S,
    RAW_S,
    HistorySampler,
    collect,
    points_at,
    prune_cutoffs,
)
from basir.monitoring.history_query import (
    Window,
    parse_step,
    parse_time,
    parse_window,
    pick_resolution,
    series_of,
)
from basir.monitoring.metrics import Metrics
from basir.monitoring.report_source import parse_moment as report_moment
from basir.store.memory import MemoryStore
from basir.store.records import MetricPoint

NOW = 1_800_000_000.0  # a round epoch second (2027-01-15)


def test_collect_keeps_counters_gauges_sums_and_counts_but_no_buckets() -> None:
    metrics = Metrics()
    metrics.observe_run("failed", "ci")
    metrics.observe_task(0.5, "succeeded", "ci")
    names = {s.name for s in collect(metrics.registry)}
    assert "basir_runs_finished_total" in names
    assert {"basir_task_duration_seconds_sum", "basir_task_duration_seconds_count"} <= names
    assert "basir_queue_depth" in names
    assert not any(n.endswith(("_bucket", "_created")) for n in names)
    runs = [s for s in collect(metrics.registry) if s.name == "basir_runs_finished_total"]
    assert runs[0].labels == '{"status":"failed","workflow":"ci"}' and runs[0].value == 1
    assert len(collect(metrics.registry, limit=3)) == 3


def test_points_at_writes_raw_minute_and_hour() -> None:
    metrics = Metrics()
    samples = [s for s in collect(metrics.registry) if s.name == "basir_queue_depth"]
    points = points_at(samples, NOW + 75.5)
    assert [(p.resolution_s, p.time) for p in points] == [
        (RAW_S, NOW + 75.5),
        (MINUTE_S, NOW + 60),
        (HOUR_S, NOW),
    ]


def test_prune_keeps_an_hour_raw_a_week_of_minutes_a_year_of_hours() -> None:
    assert prune_cutoffs(NOW) == {
        RAW_S: NOW - 3600,
        MINUTE_S: NOW - 7 * 86400,
        HOUR_S: NOW - 365 * 86400,
    }


async def test_sampler_writes_rollups_last_value_wins_and_prunes() -> None:
    store = MemoryStore()
    metrics = Metrics()
    clock = [NOW]
    sampler = HistorySampler(metrics, store, clock=lambda: clock[0])
    metrics.set_queue_depth(3)
    assert await sampler.sample() > 0
    clock[0] = NOW + 10
    metrics.set_queue_depth(5)
    await sampler.sample()
    raw = await store.metrics_query("basir_queue_depth", RAW_S, 0, NOW * 2)
    assert [(p.time, p.value) for p in raw] == [(NOW, 3.0), (NOW + 10, 5.0)]
    minute = await store.metrics_query("basir_queue_depth", MINUTE_S, 0, NOW * 2)
    assert [(p.time, p.value) for p in minute] == [(NOW, 5.0)]
    clock[0] = NOW + 2 * 3600  # two hours on: the raw points are pruned, the rollups stay
    await sampler.sample()
    raw = await store.metrics_query("basir_queue_depth", RAW_S, 0, NOW * 2)
    assert [p.time for p in raw] == [NOW + 7200]
    assert len(await store.metrics_query("basir_queue_depth", HOUR_S, 0, NOW * 2)) == 2


def test_parse_time_and_step() -> None:
    assert parse_time("1800000000", "from") == NOW
    assert parse_time("2027-01-15T08:00:00Z", "from") == NOW
    assert parse_time("2027-01-15T08:00:00", "from") == NOW  # no zone: UTC
    assert parse_time("2027-01-15T11:00:00+03:00", "from") == NOW
    assert (parse_step("60"), parse_step("60s"), parse_step("5m"), parse_step("1h")) == (
        60,
        60,
        300,
        3600,
    )
    for bad in ("", "1x", "-5", "5"):
        with pytest.raises(BasirError) as caught:
            parse_step(bad)
        assert caught.value.code == "metrics.bad_query"
    with pytest.raises(BasirError):
        parse_time("yesterday", "from")


@pytest.mark.parametrize(
    "text", ["nan", "inf", "-inf", "1e400", "1e20", "-1e20", "-1", "1969-12-31T23:59:59Z"]
)
def test_times_out_of_range_are_refused_where_named(text: str) -> None:
    """`nan`, infinities and times past year 9999 used to reach the store (a 500, or an
    export that silently matched nothing)."""
    with pytest.raises(BasirError) as caught:
        parse_window(text, None, None, NOW)
    assert caught.value.code == "metrics.bad_query"
    assert caught.value.details[0]["field"] == "query.from"
    with pytest.raises(BasirError) as caught:
        report_moment(text, "since", NOW)
    assert caught.value.code == "report.bad_window"
    assert caught.value.details == [
        {"field": "since", "message": "this time is out of range: use one between 1970 and 9999"}
    ]


def test_parse_window_defaults_and_limits() -> None:
    assert parse_window("2h", "1h", "60s", NOW) == Window(NOW - 7200, NOW - 3600, 60)
    window = parse_window(None, None, None, NOW)
    assert (window.start, window.end) == (NOW - 3600, NOW) and window.step_s >= 10
    with pytest.raises(BasirError):
        parse_window(str(NOW), str(NOW - 1), None, NOW)
    with pytest.raises(BasirError):
        parse_window(str(NOW - 365 * 86400), str(NOW), "10s", NOW)


def test_pick_resolution_by_step_and_age() -> None:
    assert pick_resolution(Window(NOW - 600, NOW, 10), NOW) == RAW_S
    assert pick_resolution(Window(NOW - 600, NOW, 60), NOW) == MINUTE_S
    assert pick_resolution(Window(NOW - 7200, NOW, 10), NOW) == MINUTE_S  # raw is gone
    assert pick_resolution(Window(NOW - 86400, NOW, 3600), NOW) == HOUR_S
    assert pick_resolution(Window(NOW - 30 * 86400, NOW, 60), NOW) == HOUR_S


def test_series_take_the_last_value_per_step_and_sum_by_label() -> None:
    ci_ok = '{"status":"succeeded","workflow":"ci"}'
    ci_ko = '{"status":"failed","workflow":"ci"}'
    app = '{"status":"succeeded","workflow":"app"}'
    points = [
        MetricPoint("m", ci_ok, 0, NOW + 0, 1),
        MetricPoint("m", ci_ok, 0, NOW + 30, 2),
        MetricPoint("m", ci_ok, 0, NOW + 70, 4),
        MetricPoint("m", ci_ko, 0, NOW + 10, 1),
        MetricPoint("m", app, 0, NOW + 10, 7),
    ]
    each = series_of(points, 60, None)
    assert len(each) == 3
    ok = next(s for s in each if s.labels == {"status": "succeeded", "workflow": "ci"})
    assert ok.points == [[NOW, 2.0], [NOW + 60, 4.0]]
    by_workflow = series_of(points, 60, "workflow")
    assert [(s.labels, s.points) for s in by_workflow] == [
        ({"workflow": "app"}, [[NOW, 7.0]]),
        ({"workflow": "ci"}, [[NOW, 3.0], [NOW + 60, 4.0]]),
    ]
    missing = series_of(points, 60, "queue")
    assert [s.labels for s in missing] == [{"queue": ""}]


def test_cloudevent_time_is_the_iso_text_of_datetime() -> None:
    from datetime import UTC, datetime

    from basir.store.records import cloudevent_time

    moments = [0.0, 2.25, 1.5e9, 1764620050.9999996, 1764620050.0000004, -1.5, 1e9 + 0.1234565]
    moments += [1.7e9 + i / 997 for i in range(2000)]
    for moment in moments:
        expected = datetime.fromtimestamp(moment, UTC).isoformat().replace("+00:00", "Z")
        assert cloudevent_time(moment) == expected


def test_query_body_is_the_json_of_the_series() -> None:
    from basir.monitoring.history_json import query_body
    from basir.monitoring.history_query import series_buckets

    rows = [
        ('{"w":"ci"}', NOW + 0, 1.5),
        ('{"w":"مرحبا"}', NOW + 10, float("nan")),
        ('{"w":"ci"}', NOW + 70, 1e-7),
        ('{"w":"ci"}', NOW + 130, -0.0),
    ]
    head = {"name": "basir_x", "start": NOW, "end": NOW + 200, "step": 60, "by": None}
    body = query_body(head, series_buckets(rows, 60, None))
    series = series_of(rows, 60, None)
    expected = {**head, "series": [{"labels": s.labels, "points": s.points} for s in series]}
    assert body == json.dumps(expected, ensure_ascii=False, separators=(",", ":")).encode()
