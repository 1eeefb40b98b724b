"""The monitoring part of the store contract (metric history, reads for reports), every store."""

from __future__ import annotations

import pytest
from contract_data import insert_run

from basir.store.base import MAX_RUNS_PER_READ, Store
from basir.store.records import AlertRecord, MetricPoint


def point(name: str, labels: str, resolution_s: int, time: float, value: float) -> MetricPoint:
    """A point, keyword-free for short tables of them."""
    return MetricPoint(name, labels, resolution_s, time, value)


async def test_points_read_back_by_name_resolution_and_range(store: Store) -> None:
    await store.metrics_write(
        [
            point("basir_queue_depth", "{}", 0, 100.0, 1),
            point("basir_queue_depth", "{}", 0, 110.0, 2),
            point("basir_queue_depth", "{}", 0, 120.0, 3),
            point("basir_queue_depth", "{}", 60, 60.0, 3),
            point("basir_runs", '{"state":"running"}', 0, 110.0, 4),
            point("basir_runs", '{"state":"queued"}', 0, 110.0, 5),
        ]
    )
    raw = await store.metrics_query("basir_queue_depth", 0, 105.0, 120.0)
    assert [(p.time, p.value) for p in raw] == [(110.0, 2.0), (120.0, 3.0)]
    minute = await store.metrics_query("basir_queue_depth", 60, 0.0, 1000.0)
    assert minute == [point("basir_queue_depth", "{}", 60, 60.0, 3.0)]
    runs = await store.metrics_query("basir_runs", 0, 0.0, 1000.0)
    assert [p.labels for p in runs] == ['{"state":"queued"}', '{"state":"running"}']
    assert await store.metrics_query("basir_nothing", 0, 0.0, 1000.0) == []
    assert await store.metrics_names() == ["basir_queue_depth", "basir_runs"]
    rows = await store.metrics_rows("basir_runs", 0, 0.0, 1000.0)
    assert rows == [('{"state":"queued"}', 110.0, 5.0), ('{"state":"running"}', 110.0, 4.0)]
    depth = await store.metrics_rows("basir_queue_depth", 0, 105.0, 120.0)
    assert depth == [("{}", 110.0, 2.0), ("{}", 120.0, 3.0)]


async def test_point_rows_come_by_time_then_labels(store: Store) -> None:
    await store.metrics_write(
        [
            point("basir_x", '{"a":"2"}', 60, 60.0, 1),
            point("basir_x", '{"a":"1"}', 60, 120.0, 2),
            point("basir_x", '{"a":"2"}', 60, 120.0, 3),
            point("basir_x", '{"a":"1"}', 60, 60.0, 4),
        ]
    )
    rows = await store.metrics_rows("basir_x", 60, 0.0, 1000.0)
    assert [(labels, t) for labels, t, _v in rows] == [
        ('{"a":"1"}', 60.0),
        ('{"a":"2"}', 60.0),
        ('{"a":"1"}', 120.0),
        ('{"a":"2"}', 120.0),
    ]
    by_series = await store.metrics_query("basir_x", 60, 0.0, 1000.0)
    assert [(p.labels, p.time, p.value) for p in by_series] == [
        ('{"a":"1"}', 60.0, 4.0),
        ('{"a":"1"}', 120.0, 2.0),
        ('{"a":"2"}', 60.0, 1.0),
        ('{"a":"2"}', 120.0, 3.0),
    ]


async def test_a_point_at_the_same_key_replaces_its_value(store: Store) -> None:
    await store.metrics_write([point("basir_x", "{}", 60, 60.0, 1)])
    await store.metrics_write(
        [point("basir_x", "{}", 60, 60.0, 7), point("basir_x", "{}", 0, 61, 7)]
    )
    assert [p.value for p in await store.metrics_query("basir_x", 60, 0.0, 100.0)] == [7.0]
    await store.metrics_write([])  # nothing to write is fine


async def test_prune_deletes_by_age_per_resolution(store: Store) -> None:
    await store.metrics_write(
        [
            point("basir_x", "{}", 0, 10.0, 1),
            point("basir_x", "{}", 0, 20.0, 1),
            point("basir_x", "{}", 60, 0.0, 1),
            point("basir_x", "{}", 3600, 0.0, 1),
        ]
    )
    removed = await store.metrics_prune({0: 15.0, 60: 1.0})
    assert removed == 2
    assert [p.time for p in await store.metrics_query("basir_x", 0, 0.0, 100.0)] == [20.0]
    assert await store.metrics_query("basir_x", 60, 0.0, 100.0) == []
    assert len(await store.metrics_query("basir_x", 3600, 0.0, 100.0)) == 1


async def test_tasks_of_many_runs_in_one_read(store: Store) -> None:
    await insert_run(store, "r1", "a", "b")
    await insert_run(store, "r2", "x")
    await insert_run(store, "r3", "z")
    rows = await store.get_tasks_of(["r2", "r1"])
    assert [(t.run_id, t.task_id) for t in rows] == [("r1", "a"), ("r1", "b"), ("r2", "x")]
    assert await store.get_tasks_of([]) == []
    assert await store.get_tasks_of(["nope"]) == []
    with pytest.raises(ValueError):
        await store.get_tasks_of([f"r{i}" for i in range(MAX_RUNS_PER_READ + 1)])


def alert(alert_id: str, fired_at: float, **kw: object) -> AlertRecord:
    """A firing alert about a failed run of `ci`."""
    return AlertRecord(
        id=alert_id,
        rule="run_failed",
        state=str(kw.pop("state", "firing")),
        severity="error",
        workflow=str(kw.pop("workflow", "ci")),
        run_id=alert_id,
        fired_at=fired_at,
        updated_at=fired_at,
        data={"error": "boom", "ar": "فشل"},
        **kw,  # type: ignore[arg-type]
    )


async def test_alerts_put_replace_get_and_list(store: Store) -> None:
    await store.alert_put(alert("a1", 10.0))
    await store.alert_put(alert("a2", 20.0, workflow="app"))
    await store.alert_put(alert("a3", 30.0, state="resolved", resolved_at=31.0))
    got = await store.alert_get("a1")
    assert got == alert("a1", 10.0)
    assert await store.alert_get("nope") is None
    assert [a.id for a in await store.alert_list()] == ["a3", "a2", "a1"]
    assert [a.id for a in await store.alert_list(state="firing")] == ["a2", "a1"]
    assert [a.id for a in await store.alert_list(workflow="ci", state="firing")] == ["a1"]
    assert [a.id for a in await store.alert_list(limit=1)] == ["a3"]
    acked = alert("a1", 10.0, acked_by="admin", acked_at=12.0, silenced_by="s1")
    await store.alert_put(acked)
    assert await store.alert_get("a1") == acked
    assert len(await store.alert_list()) == 3
