"""Preemption: which running attempts a critical task may stop to start itself (pure).

A task whose priority is in the critical class (90..100) and that cannot start for lack of
slots or resources may stop running attempts of tasks that say `preemptible: true` and whose
class is strictly lower (low, then normal, then high; never another critical task).  Among
them the lowest class goes first, then the youngest attempt (the one that loses least work),
and only as many as the critical task needs to fit: a candidate that frees nothing it is short
of is never chosen, and a chosen one that turns out unneeded once later ones are taken is
dropped again.  When even every candidate together would not make it fit, nobody is stopped.

Needs are amounts per pool: the engine's slots, a run's concurrency and every resource pool
are pools here alike (`engine.preemption` names them), so one function decides all three.

A named queue's slots and a concurrency key value's slots are pools too (`queue:NAME`,
`key:VALUE`, one unit per holder), chosen by `choose_limit_victims`: there a victim may hold
the queue, the key or both, so within a class the one holding some of the most pools still
short goes first (the fewest victims), then the youngest.  A rate limit is no pool: its tokens are
spent, and no stop brings one back.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from basir.scheduler.analytics import priority_class

Key = tuple[str, str]

# Lower rank: stopped first.  Critical is the top class and the only one that preempts.
CLASS_RANK = {"low": 0, "normal": 1, "high": 2, "critical": 3}
PREEMPTING_CLASS = "critical"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A running attempt that might be stopped: whose it is and what it holds."""

    key: Key
    priority: int  # the task's effective priority (its own, else its run's)
    started_at: float  # when this attempt started: the youngest loses least work
    preemptible: bool
    holds: Mapping[str, int] = field(default_factory=dict)


_RANK_OF = [CLASS_RANK[priority_class(p)] for p in range(101)]  # by priority 0..100


def class_rank(priority: int) -> int:
    """The rank of a priority's class: low 0, normal 1, high 2, critical 3."""
    return _RANK_OF[min(max(priority, 0), 100)]


def may_preempt(priority: int) -> bool:
    """Whether a task of this priority may stop others: only critical ones do."""
    return priority_class(priority) == PREEMPTING_CLASS


def shortfall(
    request: Mapping[str, int], capacity: Mapping[str, int], in_use: Mapping[str, int]
) -> dict[str, int] | None:
    """How much of each pool must be freed for `request` to fit; None if it never can."""
    short: dict[str, int] = {}
    for pool, wanted in request.items():
        if wanted <= 0:
            continue
        total = capacity.get(pool, 0)
        if wanted > total:
            return None
        missing = in_use.get(pool, 0) + wanted - total
        if missing > 0:
            short[pool] = missing
    return short


def _covers(chosen: Sequence[Candidate], short: Mapping[str, int]) -> bool:
    return all(sum(c.holds.get(pool, 0) for c in chosen) >= need for pool, need in short.items())


def choose_victims(
    priority: int,
    request: Mapping[str, int],
    capacity: Mapping[str, int],
    in_use: Mapping[str, int],
    candidates: Sequence[Candidate],
) -> list[Key] | None:
    """The attempts to stop so that a task of `priority` needing `request` fits.

    `[]` when it fits already; None when it may not preempt (not critical), when no set of
    eligible candidates frees enough, or when the request exceeds a pool's capacity.  The
    result is ordered as the victims were chosen (lowest class, then youngest, first).
    """
    if not may_preempt(priority):
        return None
    short = shortfall(request, capacity, in_use)
    if short is None:
        return None
    if not short:
        return []
    rank = class_rank(priority)
    # Only those that hold some of what is short, in a heap: a pick pops O(log n), so 10,000
    # running attempts cost one pass, not a sort.
    pools = tuple(short)
    heap = []
    for index, c in enumerate(candidates):
        victim_rank = _RANK_OF[min(max(c.priority, 0), 100)]
        if c.preemptible and victim_rank < rank and any(c.holds.get(p, 0) > 0 for p in pools):
            heap.append((victim_rank, -c.started_at, c.key, index))
    heapq.heapify(heap)
    chosen: list[Candidate] = []
    left = dict(short)
    while heap and any(need > 0 for need in left.values()):
        candidate = candidates[heapq.heappop(heap)[3]]
        if not any(candidate.holds.get(pool, 0) > 0 for pool, need in left.items() if need > 0):
            continue
        chosen.append(candidate)
        for pool in left:
            left[pool] -= candidate.holds.get(pool, 0)
    if not _covers(chosen, short):
        return None
    return _without_redundant(chosen, short)


def _coverage(candidate: Candidate, left: Mapping[str, int]) -> int:
    """How many of the pools still short the candidate holds some of (units differ by pool)."""
    return sum(1 for pool, need in left.items() if need > 0 and candidate.holds.get(pool, 0) > 0)


def choose_limit_victims(
    priority: int,
    request: Mapping[str, int],
    capacity: Mapping[str, int],
    in_use: Mapping[str, int],
    candidates: Sequence[Candidate],
) -> list[Key] | None:
    """`choose_victims` for a task held back by a queue or a concurrency key (and what else it
    is short of): the lowest class first; within a class the candidate that holds some of the most
    pools still short (so a holder of both the queue and the key beats two holders of one each),
    then the youngest.  The same answers otherwise: `[]`, None, never a redundant victim.
    """
    if not may_preempt(priority):
        return None
    short = shortfall(request, capacity, in_use)
    if short is None:
        return None
    if not short:
        return []
    rank = class_rank(priority)
    eligible = [
        c
        for c in candidates
        if c.preemptible and class_rank(c.priority) < rank and _coverage(c, short) > 0
    ]
    chosen: list[Candidate] = []
    left = dict(short)
    while any(need > 0 for need in left.values()):
        eligible = [c for c in eligible if _coverage(c, left) > 0]
        if not eligible:
            break
        best = min(
            eligible, key=lambda c: (class_rank(c.priority), -_coverage(c, left), -c.started_at)
        )
        eligible.remove(best)
        chosen.append(best)
        for pool in left:
            left[pool] -= best.holds.get(pool, 0)
    if not _covers(chosen, short):
        return None
    return _without_redundant(chosen, short)


def _without_redundant(chosen: list[Candidate], short: Mapping[str, int]) -> list[Key]:
    """The keys of `chosen` less the picks a later, bigger one made redundant, trying the least
    preferred first so the preferred victims stay when either would do."""
    for candidate in reversed(list(chosen)):
        rest = [c for c in chosen if c is not candidate]
        if _covers(rest, short):
            chosen = rest
    return [c.key for c in chosen]
