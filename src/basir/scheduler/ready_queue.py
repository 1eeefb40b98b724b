"""The ready queue: every queued task of every run, popped in the one queue order.

Entries are `(order_key, run_id, task_id)` in a heap.  The queue holds ids only; whoever pops
an entry checks that the task is still queued (a cancelled or held task is skipped then, which
is cheaper than removing it from the heap).
"""

from __future__ import annotations

import heapq

from basir.scheduler.ordering import AGING_S_PER_POINT, OrderKey, order_key, task_priority


class ReadyQueue:
    """Queued tasks across runs, in `order_key` order (aged priority, deadline, age, FIFO).

    The key is fixed at push time (aging is linear, see `scheduler.ordering`), so push and pop
    are O(log n) heap operations however long tasks wait.
    """

    __slots__ = ("_aging", "_heap", "_seq", "last_key")

    def __init__(self, aging_s_per_point: float = AGING_S_PER_POINT) -> None:
        self._heap: list[tuple[OrderKey, str, str]] = []
        self._seq = 0
        self._aging = aging_s_per_point
        self.last_key: OrderKey | None = None  # of the entry popped last (throttling lines)

    def push(
        self,
        run_id: str,
        task_id: str,
        *,
        run_priority: int,
        priority: int | None,
        deadline_at: float | None,
        queued_at: float,
    ) -> None:
        """Add one task; a task-level `priority` wins over its run's."""
        self._seq += 1
        key = order_key(
            task_priority(priority, run_priority),
            deadline_at,
            queued_at,
            self._seq,
            aging_s_per_point=self._aging,
        )
        heapq.heappush(self._heap, (key, run_id, task_id))

    def pop(self) -> tuple[str, str]:
        """The `(run_id, task_id)` that comes first."""
        self.last_key, run_id, task_id = heapq.heappop(self._heap)
        return run_id, task_id

    def peek(self) -> tuple[str, str] | None:
        """The `(run_id, task_id)` that `pop` would return, left in place (None: empty)."""
        if not self._heap:
            return None
        _key, run_id, task_id = self._heap[0]
        return run_id, task_id

    def __bool__(self) -> bool:
        return bool(self._heap)

    def __len__(self) -> int:
        return len(self._heap)
