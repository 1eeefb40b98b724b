"""Lines of tasks held back by a throttling limit, one per wait id, in the one queue order (pure).

When a queue slot, a key slot or a rate token frees, only the first task of that limit's line
is offered again (`pop`), not every task waiting for it: a release costs O(log n) however many
wait, and the task that comes first in the queue order (priority with aging, deadline, age) is
the one that gets the slot.  Entries are removed lazily: `pop` skips the keys its `valid`
predicate rejects (the task started, was cancelled, or now waits for something else).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable

from basir.scheduler.ordering import OrderKey

Key = tuple[str, str]
LAST: OrderKey = (2**62, math.inf, math.inf, 0)  # for a task held back outside the queue order


class WaitLines:
    """Per wait id, a heap of `(order key, seq, task key)`."""

    __slots__ = ("_lines", "_seq")

    def __init__(self) -> None:
        self._lines: dict[str, list[tuple[OrderKey, int, Key]]] = {}
        self._seq = 0

    def add(self, on: str, order: OrderKey | None, key: Key) -> None:
        """File `key` in the line of `on` at its place in the queue order."""
        self._seq += 1
        heapq.heappush(self._lines.setdefault(on, []), (order or LAST, self._seq, key))

    def pop(self, on: str, valid: Callable[[Key], bool]) -> Key | None:
        """The first key of the line of `on` that is still `valid` (removed), or None."""
        line = self._lines.get(on)
        while line:
            _order, _seq, key = heapq.heappop(line)
            if valid(key):
                if not line:
                    del self._lines[on]
                return key
        self._lines.pop(on, None)
        return None

    def __len__(self) -> int:
        return sum(len(line) for line in self._lines.values())
