"""Preemption for a queue or a concurrency key: who holds the slot, the fewest, the youngest.

`choose_limit_victims` (pure) and what `Throttle.shortage` / `Throttle.holds` hand it.
"""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from basir.config import QueueLimit
from basir.scheduler.preemption import (
    Candidate,
    choose_limit_victims,
    class_rank,
    may_preempt,
    shortfall,
)
from basir.scheduler.throttle import Need, Throttle

Q = "queue:builds"
K = "key:main"


def holder(name: str, priority: int, started_at: float, *pools: str, pre: bool = True) -> Candidate:
    return Candidate(("r", name), priority, started_at, pre, dict.fromkeys(pools, 1))


def test_the_youngest_low_holder_of_the_queue_yields() -> None:
    candidates = [
        holder("old", 20, 1.0, Q),
        holder("young", 20, 5.0, Q),
        holder("normal", 50, 9.0, Q),
        holder("elsewhere", 10, 9.5, "queue:other"),  # holds another queue: frees nothing
    ]
    victims = choose_limit_victims(95, {Q: 1}, {Q: 3}, {Q: 3}, candidates)
    assert victims == [("r", "young")]


def test_only_critical_and_only_lower_preemptible_holders() -> None:
    low = [holder("low", 20, 1.0, Q)]
    assert choose_limit_victims(80, {Q: 1}, {Q: 1}, {Q: 1}, low) is None  # high does not preempt
    fixed = [holder("fixed", 20, 1.0, Q, pre=False), holder("crit", 90, 2.0, Q)]
    assert choose_limit_victims(95, {Q: 1}, {Q: 1}, {Q: 1}, fixed) is None
    assert choose_limit_victims(95, {Q: 1}, {Q: 2}, {Q: 1}, low) == []  # a slot is free


def test_one_holder_of_queue_and_key_beats_two_within_a_class() -> None:
    candidates = [
        holder("queue-only", 20, 9.0, Q),
        holder("key-only", 20, 8.0, K),
        holder("both", 20, 1.0, Q, K),
    ]
    victims = choose_limit_victims(95, {Q: 1, K: 1}, {Q: 1, K: 1}, {Q: 1, K: 1}, candidates)
    assert victims == [("r", "both")]


def test_a_lower_class_goes_first_even_when_more_are_needed() -> None:
    candidates = [
        holder("low-queue", 20, 1.0, Q),
        holder("low-key", 20, 2.0, K),
        holder("high-both", 75, 9.0, Q, K),
    ]
    victims = choose_limit_victims(95, {Q: 1, K: 1}, {Q: 1, K: 1}, {Q: 1, K: 1}, candidates)
    assert victims == [("r", "low-key"), ("r", "low-queue")]


def test_the_queue_with_its_resources_together() -> None:
    # The queue's holder holds no cpu: stopping it alone would leave the task short of cpu.
    candidates = [
        holder("queue-holder", 20, 5.0, Q),
        Candidate(("r", "cpu"), 20, 1.0, True, {"cpu": 2}),
    ]
    request, capacity = {Q: 1, "cpu": 2}, {Q: 1, "cpu": 2}
    both = choose_limit_victims(95, request, capacity, {Q: 1, "cpu": 2}, candidates)
    assert both == [("r", "queue-holder"), ("r", "cpu")]
    alone = choose_limit_victims(95, request, capacity, {Q: 1, "cpu": 2}, candidates[:1])
    assert alone is None  # nobody stops for a slot the task could still not use


POOLS = (Q, K, "slots")
holder_st = st.builds(
    lambda i, p, t, pre, pools: Candidate(("r", f"t{i}"), p, t, pre, dict.fromkeys(pools, 1)),
    st.integers(0, 10_000),
    st.integers(0, 100),
    st.floats(0, 1000, allow_nan=False),
    st.booleans(),
    st.sets(st.sampled_from(POOLS), max_size=3),
)


@settings(max_examples=300, deadline=None)
@given(
    priority=st.integers(0, 100),
    request=st.dictionaries(st.sampled_from(POOLS), st.integers(0, 1), max_size=3),
    capacity=st.dictionaries(st.sampled_from(POOLS), st.integers(1, 4), min_size=3, max_size=3),
    candidates=st.lists(holder_st, max_size=9, unique_by=lambda c: c.key),
)
def test_limit_victims_are_eligible_sufficient_minimal_and_fewest_in_their_class(
    priority: int,
    request: dict[str, int],
    capacity: dict[str, int],
    candidates: list[Candidate],
) -> None:
    in_use: dict[str, int] = {}
    for candidate in candidates:
        for pool, amount in candidate.holds.items():
            in_use[pool] = in_use.get(pool, 0) + amount
    eligible = [
        c for c in candidates if c.preemptible and class_rank(c.priority) < class_rank(priority)
    ]

    def fits(stopped: list[Candidate]) -> bool:
        return all(
            in_use.get(pool, 0) - sum(c.holds.get(pool, 0) for c in stopped) + want
            <= capacity.get(pool, 0)
            for pool, want in request.items()
            if want > 0
        )

    victims = choose_limit_victims(priority, request, capacity, in_use, candidates)
    if victims is None:  # not critical, or even every eligible holder would not do
        assert (
            not may_preempt(priority)
            or shortfall(request, capacity, in_use) is None
            or (not fits(eligible))
        )
        return
    by_key = {c.key: c for c in candidates}
    chosen = [by_key[key] for key in victims]
    assert all(c in eligible for c in chosen)
    assert fits(chosen)
    for victim in chosen:
        assert not fits([c for c in chosen if c is not victim])
    # When one class alone can make room (the lowest that can), no smaller set of that class
    # does it: the fewest are stopped.
    for rank in range(4):
        same = [c for c in eligible if class_rank(c.priority) <= rank]
        if fits(same):
            if all(class_rank(c.priority) == rank for c in same) and chosen:
                smallest = next(
                    size
                    for size in range(len(same) + 1)
                    if any(fits(list(group)) for group in itertools.combinations(same, size))
                )
                assert len(chosen) == smallest
            break


def test_throttle_names_the_full_queue_and_key_as_pools() -> None:
    throttle = Throttle({"builds": QueueLimit(slots=1), "api": QueueLimit(rate=1)}, now=0.0)
    need = Need("builds", "main", 1)
    assert throttle.shortage(("r", "a"), need, 0.0) is None  # everything free
    throttle.take(("r", "a"), need, 0.0)
    assert throttle.holds(("r", "a")) == {Q: 1, K: 1}
    short = throttle.shortage(("r", "b"), need, 0.0)
    assert short is not None and not short.stuck and short.on == Q
    assert (short.request, short.capacity, short.in_use) == (
        {Q: 1, K: 1},
        {Q: 1, K: 1},
        {Q: 1, K: 1},
    )
    assert throttle.shortage(("r", "a"), need, 0.0) is None  # the holder itself lacks nothing
    assert throttle.holds(("r", "b")) == {}


def test_a_rate_limit_is_stuck_no_stop_brings_a_token_back() -> None:
    throttle = Throttle({"api": QueueLimit(slots=1, rate=1, per_s=60.0)}, now=0.0)
    throttle.take(("r", "a"), Need("api"), 0.0)
    short = throttle.shortage(("r", "b"), Need("api"), 1.0)
    assert short is not None and short.stuck  # full, and the token is spent too
    assert short.on == "queue:api" and short.retry_after_s == 59.0  # when the token is back
    throttle.release(("r", "a"))
    rate_only = throttle.shortage(("r", "b"), Need("api"), 1.0)
    assert rate_only is not None and rate_only.stuck and rate_only.on == "rate:api"
    assert throttle.shortage(("r", "b"), Need("api"), 61.0) is None  # the token came back
