"""Choosing victims: only critical preempts, only lower preemptible classes, only as needed."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from basir.scheduler.preemption import (
    Candidate,
    choose_victims,
    class_rank,
    may_preempt,
    shortfall,
)

SLOTS = "slots"


def slot(name: str, priority: int, started_at: float, *, preemptible: bool = True) -> Candidate:
    return Candidate(("r", name), priority, started_at, preemptible, {SLOTS: 1})


def test_only_critical_preempts() -> None:
    assert may_preempt(90) and may_preempt(100)
    assert not may_preempt(89) and not may_preempt(50) and not may_preempt(0)
    victims = choose_victims(70, {SLOTS: 1}, {SLOTS: 1}, {SLOTS: 1}, [slot("low", 20, 1.0)])
    assert victims is None


def test_fits_already_needs_nobody() -> None:
    assert choose_victims(90, {SLOTS: 1}, {SLOTS: 2}, {SLOTS: 1}, [slot("a", 20, 1.0)]) == []


def test_lowest_class_first_then_youngest() -> None:
    candidates = [
        slot("normal-young", 50, 9.0),
        slot("low-old", 20, 1.0),
        slot("low-young", 20, 5.0),
        slot("high", 70, 10.0),
    ]
    assert choose_victims(90, {SLOTS: 1}, {SLOTS: 4}, {SLOTS: 4}, candidates) == [
        ("r", "low-young")
    ]
    two = choose_victims(90, {SLOTS: 2}, {SLOTS: 4}, {SLOTS: 4}, candidates)
    assert two == [("r", "low-young"), ("r", "low-old")]
    three = choose_victims(90, {SLOTS: 3}, {SLOTS: 4}, {SLOTS: 4}, candidates)
    assert three == [("r", "low-young"), ("r", "low-old"), ("r", "normal-young")]


def test_non_preemptible_and_equal_class_are_never_chosen() -> None:
    candidates = [
        slot("fixed-low", 20, 1.0, preemptible=False),
        slot("other-critical", 95, 2.0),
    ]
    assert choose_victims(90, {SLOTS: 1}, {SLOTS: 2}, {SLOTS: 2}, candidates) is None
    # A critical task with a higher number is still the same class: not a victim either.
    assert choose_victims(100, {SLOTS: 1}, {SLOTS: 1}, {SLOTS: 1}, [slot("c", 90, 1.0)]) is None


def test_nobody_stops_when_all_together_would_not_do() -> None:
    candidates = [Candidate(("r", "small"), 20, 1.0, True, {"cpu": 500})]
    assert choose_victims(90, {"cpu": 2000}, {"cpu": 2000}, {"cpu": 2000}, candidates) is None
    # More than the capacity never fits, whoever stops.
    assert choose_victims(90, {"cpu": 3000}, {"cpu": 2000}, {}, candidates) is None


def test_a_candidate_freeing_nothing_needed_is_skipped() -> None:
    candidates = [
        Candidate(("r", "gpu-user"), 20, 9.0, True, {"gpu": 1}),
        Candidate(("r", "cpu-user"), 20, 1.0, True, {"cpu": 1000}),
    ]
    victims = choose_victims(90, {"cpu": 1000}, {"cpu": 1000, "gpu": 1}, {"cpu": 1000}, candidates)
    assert victims == [("r", "cpu-user")]


def test_a_pick_made_redundant_by_a_bigger_one_is_dropped() -> None:
    candidates = [
        Candidate(("r", "young-small"), 20, 9.0, True, {"cpu": 500}),
        Candidate(("r", "old-big"), 20, 1.0, True, {"cpu": 2000}),
    ]
    victims = choose_victims(90, {"cpu": 2000}, {"cpu": 2500}, {"cpu": 2500}, candidates)
    assert victims == [("r", "old-big")]


def test_shortfall() -> None:
    assert shortfall({"cpu": 1000}, {"cpu": 2000}, {"cpu": 1500}) == {"cpu": 500}
    assert shortfall({"cpu": 1000}, {"cpu": 2000}, {}) == {}
    assert shortfall({"x": 1}, {}, {}) is None


POOLS = ("slots", "cpu", "gpu")
candidate_st = st.builds(
    lambda i, p, t, pre, holds: Candidate(("r", f"t{i}"), p, t, pre, holds),
    st.integers(0, 10_000),
    st.integers(0, 100),
    st.floats(0, 1000, allow_nan=False),
    st.booleans(),
    st.dictionaries(st.sampled_from(POOLS), st.integers(0, 4), max_size=3),
)


@settings(max_examples=300, deadline=None)
@given(
    priority=st.integers(0, 100),
    request=st.dictionaries(st.sampled_from(POOLS), st.integers(0, 6), max_size=3),
    capacity=st.dictionaries(st.sampled_from(POOLS), st.integers(0, 12), min_size=3, max_size=3),
    candidates=st.lists(candidate_st, max_size=12, unique_by=lambda c: c.key),
)
def test_victims_are_eligible_sufficient_and_minimal(
    priority: int,
    request: dict[str, int],
    capacity: dict[str, int],
    candidates: list[Candidate],
) -> None:
    in_use: dict[str, int] = {}
    for candidate in candidates:
        for pool, amount in candidate.holds.items():
            in_use[pool] = in_use.get(pool, 0) + amount
    victims = choose_victims(priority, request, capacity, in_use, candidates)
    if victims is None:
        short = shortfall(request, capacity, in_use)
        eligible = [
            c for c in candidates if c.preemptible and class_rank(c.priority) < class_rank(priority)
        ]
        everyone_frees = {
            pool: sum(c.holds.get(pool, 0) for c in eligible) for pool in (short or {})
        }
        assert (
            not may_preempt(priority)
            or short is None
            or any(everyone_frees[pool] < need for pool, need in short.items())
        )
        return
    assert may_preempt(priority)
    by_key = {c.key: c for c in candidates}
    chosen = [by_key[key] for key in victims]
    assert len(set(victims)) == len(victims)
    for victim in chosen:  # only preemptible tasks of a strictly lower class
        assert victim.preemptible
        assert class_rank(victim.priority) < class_rank(priority)

    def fits(stopped: list[Candidate]) -> bool:
        freed = {p: sum(c.holds.get(p, 0) for c in stopped) for p in POOLS}
        return all(
            in_use.get(pool, 0) - freed.get(pool, 0) + want <= capacity.get(pool, 0)
            for pool, want in request.items()
            if want > 0
        )

    assert fits(chosen)  # enough
    for victim in chosen:  # and no one more than needed
        assert not fits([c for c in chosen if c is not victim])
