"""Fair share between namespaces: within 10 % of the weights over time, priorities kept."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from basir.scheduler.fair_share import FairReadyQueue, FairShare
from basir.scheduler.ready_queue import ReadyQueue

TOLERANCE = 0.10


def assert_within_weights(served: dict[str, int], weights: dict[str, int]) -> None:
    total, weight_total = sum(served.values()), sum(weights.values())
    for namespace, weight in weights.items():
        expected = total * weight / weight_total
        assert abs(served.get(namespace, 0) - expected) <= TOLERANCE * expected, (served, weights)


@settings(max_examples=40, deadline=None)
@given(
    weights=st.lists(st.integers(1, 10), min_size=2, max_size=6),
    seed=st.integers(0, 2**32 - 1),
)
def test_contended_queue_serves_namespaces_by_weight(weights: list[int], seed: int) -> None:
    """Random arrivals (bursts, random priorities inside a class, random order) over a long
    sequence: while every namespace has work, starts follow the weights within 10 %."""
    rng = random.Random(seed)
    names = {f"ns{i}": weight for i, weight in enumerate(weights)}
    queue = FairReadyQueue()
    queue.share.weights = dict(names)
    pending = {name: 0 for name in names}
    served = {name: 0 for name in names}
    clock = 0.0

    def arrive(name: str) -> None:
        for _ in range(rng.randint(1, 20)):
            queue.push(name, f"t{clock}", run_priority=50, priority=None, deadline_at=None,
                       queued_at=clock + rng.random(), namespace=name)  # fmt: skip
            pending[name] += 1

    for name in rng.sample(list(names), len(names)):
        arrive(name)
    for _step in range(3_000):
        clock += rng.random()
        for name in names:  # everyone stays contended: refill before running dry
            if pending[name] < 3:
                arrive(name)
        run_id, _task = queue.pop()
        pending[run_id] -= 1
        served[run_id] += 1
        queue.served(run_id)
    assert_within_weights(served, names)


@settings(max_examples=30, deadline=None)
@given(weights=st.lists(st.integers(1, 20), min_size=2, max_size=8), seed=st.integers(0, 999))
def test_stride_picks_are_proportional(weights: list[int], seed: int) -> None:
    rng = random.Random(seed)
    share = FairShare({f"n{i}": w for i, w in enumerate(weights)})
    served = dict.fromkeys(share.weights, 0)
    for _ in range(rng.randint(4_000, 6_000)):
        picked = share.pick(share.weights)
        served[picked] += 1
        share.served(picked)
    assert_within_weights(served, share.weights)


def test_an_idle_namespace_banks_no_credit() -> None:
    share = FairShare()
    for _ in range(100):
        share.served("busy")
    share.join("late", ["busy"])
    assert share.pass_of("late") == share.pass_of("busy")


def test_a_higher_priority_is_never_overtaken_by_fair_share() -> None:
    queue = FairReadyQueue()
    for _ in range(5):  # `a` already served a lot: fair share alone would pick `b`
        queue.served("a")
    queue.push("a", "urgent", run_priority=90, priority=None, deadline_at=None, queued_at=10.0,
               namespace="a")  # fmt: skip
    queue.push("b", "normal", run_priority=50, priority=None, deadline_at=None, queued_at=0.0,
               namespace="b")  # fmt: skip
    queue.push("c", "low", run_priority=20, priority=None, deadline_at=None, queued_at=0.0,
               namespace="c")  # fmt: skip
    assert [queue.pop()[1] for _ in range(3)] == ["urgent", "normal", "low"]


def test_equal_priorities_share_turns_and_each_namespace_keeps_its_order() -> None:
    queue = FairReadyQueue()
    for i in range(3):
        for namespace in ("a", "b"):
            queue.push(namespace, f"{namespace}{i}", run_priority=50, priority=None,
                       deadline_at=None, queued_at=float(i if namespace == "a" else 100 + i),
                       namespace=namespace)  # fmt: skip
    order = []
    while queue:
        run_id, task_id = queue.pop()
        queue.served(run_id)
        order.append(task_id)
    # `b` queued much later still gets every other turn; inside each, queue order.
    assert order == ["a0", "b0", "a1", "b1", "a2", "b2"]


def test_one_namespace_pops_in_the_plain_queue_order() -> None:
    rng = random.Random(7)
    fair, plain = FairReadyQueue(), ReadyQueue()
    for i in range(500):
        fields = {
            "run_priority": rng.choice([20, 50, 70, 90]),
            "priority": rng.choice([None, rng.randint(0, 100)]),
            "deadline_at": rng.choice([None, rng.uniform(0, 1000)]),
            "queued_at": rng.uniform(0, 1000),
        }
        fair.push("r", f"t{i}", **fields)
        plain.push("r", f"t{i}", **fields)
    assert [fair.pop() for _ in range(500)] == [plain.pop() for _ in range(500)]
    assert not fair and len(fair) == 0


def test_peek_names_what_pop_returns_and_leaves_it_in_place() -> None:
    queue = FairReadyQueue()
    assert queue.peek() is None
    for i, namespace in enumerate(["a", "b", "a", "c", "b"]):
        queue.push(
            f"r{i}",
            "t",
            run_priority=50,
            priority=None,
            deadline_at=None,
            queued_at=float(i),
            namespace=namespace,
        )
    while queue:
        seen = queue.peek()
        assert seen is not None
        size = len(queue)
        popped = queue.pop()
        assert popped == seen and len(queue) == size - 1
        queue.served({"r0": "a", "r2": "a", "r1": "b", "r4": "b", "r3": "c"}[popped[0]])
    assert queue.peek() is None
