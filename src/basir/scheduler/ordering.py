"""The one queue order for everything ready (DESIGN §2.3), as a pure sort key."""

from __future__ import annotations

import math

OrderKey = tuple[int, float, float, int]


def order_key(priority: int, deadline_at: float | None, queued_at: float, seq: int) -> OrderKey:
    """Sort key: higher priority first, then earliest deadline (EDF), then oldest, then FIFO.

    `seq` is a monotonically increasing tiebreak so that equal keys keep submission order.
    """
    return (-priority, deadline_at if deadline_at is not None else math.inf, queued_at, seq)


def task_priority(task_priority: int | None, run_priority: int) -> int:
    """A task's own `priority:` when its spec sets one, else its run's."""
    return run_priority if task_priority is None else task_priority
