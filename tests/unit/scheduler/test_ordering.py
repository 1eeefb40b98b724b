"""The one queue order: classes, EDF within a band, age, and aging that bounds every wait."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from basir.scheduler.ordering import (
    AGING_S_PER_POINT,
    order_key,
    overtaken_after,
    task_priority,
)
from basir.scheduler.ready_queue import ReadyQueue
from basir.spec.models import PRIORITY_CLASSES

NOW = 1_800_000_000.0


def test_classes_order_tasks_queued_together() -> None:
    queue = ReadyQueue()
    for name in ("low", "normal", "critical", "high"):
        queue.push("r", name, run_priority=PRIORITY_CLASSES[name], priority=None,
                   deadline_at=None, queued_at=NOW)  # fmt: skip
    assert [queue.pop()[1] for _ in range(4)] == ["critical", "high", "normal", "low"]


def test_within_a_class_earliest_deadline_then_age() -> None:
    queue = ReadyQueue()
    queue.push("r", "old", run_priority=50, priority=None, deadline_at=None, queued_at=NOW)
    queue.push("r", "late", run_priority=50, priority=None, deadline_at=NOW + 99, queued_at=NOW)
    queue.push("r", "soon", run_priority=50, priority=None, deadline_at=NOW + 9, queued_at=NOW)
    queue.push("r", "new", run_priority=50, priority=None, deadline_at=None, queued_at=NOW + 1)
    assert [queue.pop()[1] for _ in range(4)] == ["soon", "late", "old", "new"]


def test_a_tasks_own_priority_wins() -> None:
    assert task_priority(90, 20) == 90 and task_priority(None, 20) == 20


def test_a_long_waiting_low_task_overtakes_new_critical_ones() -> None:
    low = order_key(PRIORITY_CLASSES["low"], None, NOW, 1)
    fresh = order_key(PRIORITY_CLASSES["critical"], None, NOW + 10, 2)
    later = NOW + overtaken_after(PRIORITY_CLASSES["low"]) + 1
    assert fresh < low < order_key(100, None, later, 3)
    assert overtaken_after(20) == (80 + 10) * AGING_S_PER_POINT


ARRIVAL = st.tuples(st.integers(0, 100), st.none() | st.floats(0, 500))


@settings(max_examples=150, deadline=None)
@given(
    target_priority=st.integers(0, 100),
    waiting=st.lists(ARRIVAL, max_size=30),
    arrivals=st.lists(st.lists(ARRIVAL, max_size=3), min_size=1, max_size=40),
)
def test_no_arrival_sequence_starves_a_task(
    target_priority: int,
    waiting: list[tuple[int, float | None]],
    arrivals: list[list[tuple[int, float | None]]],
) -> None:
    """One pop per second, up to 3 arrivals per second of any priority and deadline (the
    sequence repeats for ever): the target is served within the bound aging promises."""
    aging = 1.0  # one point per second keeps the horizon small; the proof scales with it
    queue = ReadyQueue(aging_s_per_point=aging)
    for index, (priority, deadline) in enumerate(waiting):
        queue.push("old", str(index), run_priority=priority, priority=None,
                   deadline_at=deadline, queued_at=0.0)  # fmt: skip
    queue.push("t", "target", run_priority=target_priority, priority=None,
               deadline_at=None, queued_at=0.0)  # fmt: skip
    horizon = overtaken_after(target_priority, aging)
    # Only what was queued by `horizon` can rank before the target: all of it, then it.
    bound = len(waiting) + 3 * (int(horizon) + 1) + 1
    for second in range(bound + 1):
        for index, (priority, deadline) in enumerate(arrivals[second % len(arrivals)]):
            queue.push("new", f"{second}.{index}", run_priority=priority, priority=None,
                       deadline_at=deadline, queued_at=float(second))  # fmt: skip
        if queue.pop() == ("t", "target"):
            return
    raise AssertionError(f"target (priority {target_priority}) waited over {bound} s")
