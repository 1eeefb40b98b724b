"""Scheduler analytics, pure: waits by class, starvation, throughput, deadline hit rate."""

from __future__ import annotations

import pytest

from basir.errors import BasirError
from basir.scheduler.analytics import analytics, parse_window, percentile, priority_class
from basir.store.records import RunRecord, TaskRecord

NOW = 10_000.0


def run(run_id: str, priority: int, **kw: float) -> RunRecord:
    return RunRecord(run_id, "w", 1, "succeeded", priority=priority, **kw)  # type: ignore[arg-type]


def task(
    run_id: str, task_id: str, queued: float, started: float | None, **kw: object
) -> TaskRecord:
    status = str(kw.pop("status", "succeeded"))
    finished = kw.pop("finished", None if started is None else started + 1)
    return TaskRecord(run_id, task_id, status, queued_at=queued, started_at=started,
                      finished_at=finished)  # type: ignore[arg-type]  # fmt: skip


def test_classes_and_percentiles() -> None:
    assert [priority_class(p) for p in (100, 90, 89, 70, 69, 50, 49, 0)] == [
        "critical", "critical", "high", "high", "normal", "normal", "low", "low",
    ]  # fmt: skip
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.99) == 4.0
    assert percentile([], 0.5) is None


def test_waits_starvation_throughput_and_deadlines() -> None:
    runs = [
        run("hi", 70, deadline_at=NOW - 10, finished_at=NOW - 20),  # met
        run("lo", 20, deadline_at=NOW - 100, finished_at=NOW - 50),  # missed
        run("old", 50, deadline_at=1.0, finished_at=2.0),  # outside the window
    ]
    tasks = {
        "hi": [task("hi", "a", NOW - 30, NOW - 29), task("hi", "b", NOW - 30, NOW - 25)],
        "lo": [
            task("lo", "a", NOW - 600, NOW - 60),
            task("lo", "b", NOW - 900, None, status="queued"),  # starving: 900 s so far
            task("lo", "c", NOW - 7200, NOW - 7100),  # started before the window
        ],
    }
    found = analytics(runs, tasks, NOW, 3600.0)
    high, low = found["classes"]["high"], found["classes"]["low"]
    assert (high["tasks"], high["wait_p50_s"], high["wait_p99_s"]) == (2, 1.0, 5.0)
    assert (low["tasks"], low["wait_p50_s"], low["longest_wait_s"]) == (1, 540.0, 900.0)
    assert low["still_waiting"] == 1
    assert found["queues"]["default"]["tasks"] == 3
    assert found["queues"]["default"]["throughput_per_min"] == round(3 / 60, 3)
    assert found["deadlines"] == {"runs": 2, "met": 1, "hit_rate": 0.5}
    assert found["classes"]["critical"]["wait_p50_s"] is None


@pytest.mark.parametrize("text", ["0s", "31d", "soon", ""])
def test_bad_windows(text: str) -> None:
    with pytest.raises(BasirError) as caught:
        parse_window(text)
    assert caught.value.code == "request.invalid"
    assert parse_window("15m") == 900.0


def test_named_queues_and_time_throttled() -> None:
    runs = [run("r", 50)]
    rows = [
        TaskRecord("r", "a", "succeeded", queued_at=NOW - 30, started_at=NOW - 20,
                   finished_at=NOW - 10, queue="builds", throttled_s=8.0),
        TaskRecord("r", "b", "succeeded", queued_at=NOW - 30, started_at=NOW - 29,
                   finished_at=NOW - 28, queue="builds"),
        TaskRecord("r", "c", "queued", queued_at=NOW - 5, queue="l2-api"),
        TaskRecord("r", "d", "succeeded", queued_at=NOW - 30, started_at=NOW - 28,
                   finished_at=NOW - 27, throttled_s=1.5),
    ]  # fmt: skip
    result = analytics(runs, {"r": rows}, NOW, 60.0)
    queues = result["queues"]
    assert list(queues) == ["default", "builds", "l2-api"]
    assert (queues["builds"]["tasks"], queues["builds"]["throttled_s"]) == (2, 8.0)
    assert queues["builds"]["wait_p99_s"] == 10.0
    assert (queues["l2-api"]["still_waiting"], queues["l2-api"]["longest_wait_s"]) == (1, 5.0)
    assert (queues["default"]["tasks"], queues["default"]["throttled_s"]) == (1, 1.5)
    assert result["classes"]["normal"]["throttled_s"] == 9.5
    assert result["classes"]["high"]["throttled_s"] == 0.0


def test_preemptions_of_tasks_active_in_the_window_by_class() -> None:
    runs = [run("lo", 20), run("mid", 50)]
    preempted = task("lo", "a", NOW - 60, NOW - 30)
    preempted.preemptions = 2
    twice_long_ago = task("lo", "b", NOW - 9000, NOW - 8000)
    twice_long_ago.preemptions = 5  # all of it before the window
    still_queued = task("mid", "a", NOW - 10, None, status="queued")
    still_queued.preemptions = 1
    found = analytics(runs, {"lo": [preempted, twice_long_ago], "mid": [still_queued]}, NOW, 3600.0)
    assert found["classes"]["low"]["preemptions"] == 2
    assert found["classes"]["normal"]["preemptions"] == 1
    assert found["classes"]["critical"]["preemptions"] == 0
    assert found["queues"]["default"]["preemptions"] == 3


def test_preemptions_and_time_throttled_per_named_queue() -> None:
    runs = [run("r", 20)]
    rows = [
        TaskRecord("r", "a", "succeeded", queued_at=NOW - 30, started_at=NOW - 20,
                   finished_at=NOW - 10, queue="builds", throttled_s=4.0, preemptions=2),
        TaskRecord("r", "b", "queued", queued_at=NOW - 5, preemptions=1),
    ]  # fmt: skip
    result = analytics(runs, {"r": rows}, NOW, 60.0)
    builds, default = result["queues"]["builds"], result["queues"]["default"]
    assert (builds["preemptions"], builds["throttled_s"]) == (2, 4.0)
    assert (default["preemptions"], default["throttled_s"]) == (1, 0.0)
    low = result["classes"]["low"]
    assert (low["preemptions"], low["throttled_s"]) == (3, 4.0)


def test_a_tasks_own_priority_and_deadline_place_it() -> None:
    from basir.scheduler.analytics import TaskFacts

    runs = [run("r", 20, deadline_at=NOW - 5, finished_at=NOW - 1)]
    rows = [
        task("r", "urgent", NOW - 30, NOW - 29),  # finished at NOW - 28: before its deadline
        task("r", "plain", NOW - 30, NOW - 20),  # finished at NOW - 19: run deadline NOW - 5
        task("r", "late", NOW - 30, NOW - 2),  # finished at NOW - 1: after NOW - 5
        task("r", "stuck", NOW - 30, None, status="queued"),  # its deadline passed: missed
    ]
    own = {"urgent": TaskFacts(90, NOW - 27)}

    def facts(record: RunRecord, row: TaskRecord) -> TaskFacts:
        return own.get(row.task_id, TaskFacts(record.priority, record.deadline_at))

    found = analytics(runs, {"r": rows}, NOW, 3600.0, facts)
    critical, low = found["classes"]["critical"], found["classes"]["low"]
    assert (critical["tasks"], critical["deadline_tasks"], critical["deadline_hit_rate"]) == (
        1, 1, 1.0,
    )  # fmt: skip
    assert (low["tasks"], low["deadline_tasks"], low["deadline_met"]) == (2, 3, 1)
    assert low["deadline_hit_rate"] == round(1 / 3, 4)
    queue = found["queues"]["default"]
    assert (queue["deadline_tasks"], queue["deadline_met"]) == (4, 2)
    assert found["deadlines"] == {"runs": 1, "met": 0, "hit_rate": 0.0}
    # Without facts, every task ranks with its run, as before.
    plain = analytics(runs, {"r": rows}, NOW, 3600.0)
    assert plain["classes"]["critical"]["tasks"] == 0 and plain["classes"]["low"]["tasks"] == 3
