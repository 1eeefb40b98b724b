"""Fair share between namespaces: who goes next when several contend, by weight (stride).

`FairShare` is pure bookkeeping: each namespace has a *pass* that grows by `1/weight` each time
one of its tasks starts; among the namespaces that may go, the lowest pass goes first (ties by
name).  Over any stretch where namespaces stay contended, each gets starts in proportion to its
weight, off by at most one start each (stride scheduling); a namespace that was idle joins at the
lowest pass of those busy, so idling banks no credit to burst with later.

`FairReadyQueue` combines it with the one queue order (`scheduler.ordering`) without breaking
priority classes: it keeps one ready queue per namespace; the global winner is the head with the
best order key, as before; the namespaces that may take its turn are those whose head has the
*same priority* and comes before the best head of any other priority.  Among them the lowest pass
goes, and inside a namespace its own queue order decides.  So a higher priority (after aging) is
never overtaken, fairness only shares turns between tasks of equal priority, and with a single
namespace the order is exactly the plain queue's.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping

from basir.scheduler.ordering import AGING_S_PER_POINT, OrderKey, order_key, task_priority


class FairShare:
    """Stride bookkeeping of served turns per namespace, by weight (default 1)."""

    __slots__ = ("_pass", "weights")

    def __init__(self, weights: Mapping[str, int] | None = None) -> None:
        self.weights: dict[str, int] = dict(weights or {})
        self._pass: dict[str, float] = {}

    def pass_of(self, namespace: str) -> float:
        """The namespace's pass: turns served divided by weight, since it last joined."""
        return self._pass.get(namespace, 0.0)

    def join(self, namespace: str, busy: Iterable[str]) -> None:
        """`namespace` has work again: it starts no lower than the lowest pass of `busy`."""
        floor = min((self.pass_of(other) for other in busy if other != namespace), default=None)
        if floor is not None and self.pass_of(namespace) < floor:
            self._pass[namespace] = floor

    def pick(self, candidates: Iterable[str]) -> str:
        """The candidate that goes next: lowest pass, then name."""
        return min(candidates, key=lambda ns: (self.pass_of(ns), ns))

    def served(self, namespace: str) -> None:
        """A task of `namespace` started: its pass grows by 1/weight."""
        weight = max(1, self.weights.get(namespace, 1))
        self._pass[namespace] = self.pass_of(namespace) + 1.0 / weight


Entry = tuple[OrderKey, int, str, str]  # order key, priority, run id, task id


class FairReadyQueue:
    """Queued tasks per namespace, popped by queue order and fair share (see the module doc)."""

    __slots__ = ("_aging", "_heaps", "_seq", "last_key", "share")

    def __init__(self, aging_s_per_point: float = AGING_S_PER_POINT) -> None:
        self._heaps: dict[str, list[Entry]] = {}
        self._seq = 0
        self._aging = aging_s_per_point
        self.share = FairShare()
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
        namespace: str = "default",
    ) -> None:
        """Add one task; a task-level `priority` wins over its run's."""
        self._seq += 1
        level = task_priority(priority, run_priority)
        key = order_key(level, deadline_at, queued_at, self._seq, aging_s_per_point=self._aging)
        heap = self._heaps.get(namespace)
        if heap is None:
            self.share.join(namespace, self._heaps)
            heap = self._heaps[namespace] = []
        heapq.heappush(heap, (key, level, run_id, task_id))

    def _next_namespace(self) -> str:
        heads = {ns: heap[0] for ns, heap in self._heaps.items()}
        namespace = min(heads, key=lambda ns: heads[ns][0])
        if len(heads) > 1:
            level = heads[namespace][1]
            others = [head[0] for head in heads.values() if head[1] != level]
            bound = min(others) if others else None
            fair = [
                ns
                for ns, head in heads.items()
                if head[1] == level and (bound is None or head[0] < bound)
            ]
            namespace = self.share.pick(fair)
        return namespace

    def pop(self) -> tuple[str, str]:
        """The `(run_id, task_id)` that goes next."""
        namespace = self._next_namespace()
        heap = self._heaps[namespace]
        self.last_key, _level, run_id, task_id = heapq.heappop(heap)
        if not heap:
            del self._heaps[namespace]
        return run_id, task_id

    def peek(self) -> tuple[str, str] | None:
        """The `(run_id, task_id)` that `pop` would return, left in place (None: empty)."""
        if not self._heaps:
            return None
        _key, _level, run_id, task_id = self._heaps[self._next_namespace()][0]
        return run_id, task_id

    def served(self, namespace: str) -> None:
        """A task of `namespace` started: charge its fair share."""
        self.share.served(namespace)

    def __bool__(self) -> bool:
        return bool(self._heaps)

    def __len__(self) -> int:
        return sum(len(heap) for heap in self._heaps.values())
