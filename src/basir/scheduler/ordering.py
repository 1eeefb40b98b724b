"""The one queue order for everything ready (DESIGN §2.3), as a pure, static sort key.

Priority classes `critical > high > normal > low` (90, 70, 50, 20) or a number 0..100 come
from the workflow, the run request or the task (a task's own wins: `task_priority`).  Aging
is linear: a task's effective priority grows by one point every `AGING_S_PER_POINT` seconds
it waits.  Comparing two tasks' effective priorities at any time t,

    p1 + (t - q1) / A  >  p2 + (t - q2) / A   ⇔   q1 - p1·A  <  q2 - p2·A,

so the order never changes while tasks wait and the key can be fixed at push time: the heap
stays O(log n) per operation with no re-heapify.  The key is the *effective time*
`queued_at - priority·A` (a priority is a head start in time), cut into bands of
`BAND_POINTS` points; within a band the earliest deadline goes first (EDF), then the lower
effective time (higher priority, then older), then submission order.

Starvation is impossible: a task queued at q with priority p comes before every task queued
after `q + (100 - p)·A + BAND_S`, whatever their priority, so its wait is bounded by the work
that arrived before that moment (`overtaken_after`; a property test checks the bound).
"""

from __future__ import annotations

import math

AGING_S_PER_POINT = 3.0  # a low task (20) overtakes new critical ones (90) after 210 s
BAND_POINTS = 10
BAND_S = BAND_POINTS * AGING_S_PER_POINT
MAX_PRIORITY = 100

OrderKey = tuple[int, float, float, int]


def effective_time(priority: int, queued_at: float, aging_s_per_point: float) -> float:
    """`queued_at` moved earlier by the priority's head start."""
    return queued_at - priority * aging_s_per_point


def order_key(
    priority: int,
    deadline_at: float | None,
    queued_at: float,
    seq: int,
    *,
    aging_s_per_point: float = AGING_S_PER_POINT,
) -> OrderKey:
    """Sort key: aged priority band, then earliest deadline, then effective time, then FIFO.

    `seq` is a monotonically increasing tiebreak so that equal keys keep submission order.
    """
    effective = effective_time(priority, queued_at, aging_s_per_point)
    band = math.floor(effective / (BAND_POINTS * aging_s_per_point))
    return (band, deadline_at if deadline_at is not None else math.inf, effective, seq)


def overtaken_after(priority: int, aging_s_per_point: float = AGING_S_PER_POINT) -> float:
    """Seconds after a task is queued from which every newly queued task ranks after it."""
    return (MAX_PRIORITY - priority) * aging_s_per_point + BAND_POINTS * aging_s_per_point


def task_priority(task_priority: int | None, run_priority: int) -> int:
    """A task's own `priority:` when its spec sets one, else its run's."""
    return run_priority if task_priority is None else task_priority
