"""Deadlines, pure: a task's own deadline, medians of history, the critical path left."""

from __future__ import annotations

from basir.scheduler.deadlines import (
    RECHECK_MIN_S,
    Node,
    at_risk,
    median_durations,
    next_check_in,
    remaining_s,
    task_deadline_at,
)
from basir.store.records import TaskRecord


def test_task_deadline_is_the_earlier_of_its_own_and_the_runs() -> None:
    assert task_deadline_at(None, 100.0, 30.0) == 130.0
    assert task_deadline_at(120.0, 100.0, 30.0) == 120.0
    assert task_deadline_at(200.0, 100.0, 30.0) == 130.0
    assert task_deadline_at(200.0, 100.0, None) == 200.0
    assert task_deadline_at(None, None, 30.0) is None


def test_median_durations_use_succeeded_tasks_only() -> None:
    def row(task_id: str, took: float, status: str = "succeeded") -> TaskRecord:
        return TaskRecord("r", task_id, status, started_at=10.0, finished_at=10.0 + took)

    runs = [[row("a", 1.0), row("b", 9.0)], [row("a", 3.0)], [row("a", 100.0, "failed")]]
    assert median_durations(runs) == {"a": 2.0, "b": 9.0}


# a → b → d and a → c → d, c the long branch
DAG = {"a": (), "b": ("a",), "c": ("a",), "d": ("b", "c")}
EST = {"a": 10.0, "b": 5.0, "c": 20.0, "d": 1.0}


def nodes(
    done: frozenset[str] | set[str] = frozenset(), running: dict[str, float] | None = None
) -> dict[str, Node]:
    running = running or {}
    return {t: Node(needs, t in done, running.get(t)) for t, needs in DAG.items()}


def test_remaining_is_the_critical_path_of_unfinished_work() -> None:
    assert remaining_s(nodes(), EST, now=0.0) == 31.0  # a + c + d
    assert remaining_s(nodes({"a"}), EST, now=0.0) == 21.0
    assert remaining_s(nodes({"a"}, {"c": 0.0}), EST, now=15.0) == 6.0  # c has 5 s left
    assert remaining_s(nodes({"a"}, {"c": 0.0}), EST, now=50.0) == 6.0  # c overran: b + d
    assert remaining_s(nodes(), EST, now=0.0, target="b") == 15.0
    assert remaining_s(nodes(set(DAG)), EST, now=0.0) == 0.0
    assert remaining_s(nodes(), {}, now=0.0) == 0.0  # no history: no estimate


def test_a_long_chain_is_walked_without_recursion() -> None:
    chain = {f"t{i}": Node((f"t{i - 1}",) if i else ()) for i in range(20_000)}
    assert remaining_s(chain, {f"t{i}": 1.0 for i in range(20_000)}, now=0.0) == 20_000.0


def test_at_risk_and_when_to_look_again() -> None:
    assert at_risk(deadline_at=100.0, now=80.0, remaining=21.0)
    assert not at_risk(deadline_at=100.0, now=80.0, remaining=20.0)
    assert next_check_in(100.0, 80.0, 10.0) == 10.0
    assert next_check_in(100.0, 80.0, 19.9) == RECHECK_MIN_S
