"""The allocator: the engine's in-memory account of what each running attempt holds.

Owned by one engine process (never shared across processes); the flow asks it before it
starts an attempt and tells it when the attempt ends, whatever the end.  Keys are
`(run_id, task_id)`.  With remote workers (later) there will be one per worker plus a global
one; nothing here assumes it is the only one.

Waiting policy (head-of-line reservation after a bounded wait): tasks are offered in the
scheduler's order, and one that does not fit waits while later, smaller ones that fit start —
so a big task never blocks the queue.  Once a task has waited `reserve_after_s`, it takes the
reservation of the pools it is short of: from then on no other task starts on those pools until
it has started (others keep starting on other pools), so it cannot be starved by a stream of
small tasks.  One reservation at a time, the longest waiter first; it is dropped when its holder
starts or stops waiting (cancelled, paused).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from basir.i18n import defer
from basir.resources.fitting import Shortfall, never_fits, shortfalls, show_amount

Key = tuple[str, str]
RESERVE_AFTER_S = 60.0


@dataclass(frozen=True, slots=True)
class Waiting:
    """Why a request was not granted: the pool it waits for and the reason (a deferred message)."""

    pool: str
    reason: str


@dataclass(slots=True)
class _Reservation:
    key: Key
    pools: frozenset[str]


class Allocator:
    """Pools with a capacity and what is in use, by whom; all-or-nothing acquisition."""

    def __init__(self, capacity: Mapping[str, int], reserve_after_s: float = RESERVE_AFTER_S):
        self.capacity: dict[str, int] = dict(capacity)
        self.in_use: dict[str, int] = {}
        self.held: dict[Key, dict[str, int]] = {}
        self._by_pool: dict[str, dict[Key, int]] = {}
        self._since: dict[Key, float] = {}
        self._reservation: _Reservation | None = None
        self.reserve_after_s = reserve_after_s

    def acquire(self, key: Key, request: Mapping[str, int], now: float) -> Waiting | None:
        """Take all of `request` for `key` and return None, or take nothing and say why not.

        The reason is a deferred message (`basir.i18n.defer`), shown in the reader's language:
        "waiting for cpu: 2/2 in use by run X task Y".
        """
        if key in self.held or not request:
            return None
        impossible = never_fits(request, self.capacity)
        if impossible:
            self._since.setdefault(key, now)
            return Waiting(impossible[0].pool, self._impossible_reason(impossible[0]))
        reservation = self._reservation
        if reservation is not None and reservation.key != key:
            blocked = sorted(reservation.pools.intersection(request))
            if blocked:
                self._since.setdefault(key, now)
                reason = defer(
                    "waiting for {pool}: reserved for run {run} task {task}, which has waited"
                    " longest",
                    pool=blocked[0],
                    run=reservation.key[0],
                    task=reservation.key[1],
                )
                return Waiting(blocked[0], reason)
        short = shortfalls(request, self.capacity, self.in_use)
        if short:
            since = self._since.setdefault(key, now)
            if reservation is None and now - since >= self.reserve_after_s:
                self._reservation = _Reservation(key, frozenset(s.pool for s in short))
            return Waiting(short[0].pool, self._busy_reason(short[0]))
        self._take(key, dict(request))
        return None

    def release(self, key: Key) -> bool:
        """Give back everything `key` holds; True if it held anything."""
        self.forget(key)
        request = self.held.pop(key, None)
        if request is None:
            return False
        for pool, amount in request.items():
            self.in_use[pool] = self.in_use.get(pool, 0) - amount
            holders = self._by_pool.get(pool)
            if holders is not None:
                holders.pop(key, None)
        return True

    def forget(self, key: Key) -> None:
        """`key` no longer waits (started elsewhere, cancelled, paused): drop its wait state."""
        self._since.pop(key, None)
        if self._reservation is not None and self._reservation.key == key:
            self._reservation = None

    def set_capacity(self, pool: str, amount: int) -> None:
        """Change a pool's capacity; lowering it never takes back what is already held."""
        self.capacity[pool] = amount

    def snapshot(self) -> list[dict[str, Any]]:
        """Every pool: capacity, in use and holders, as whole amounts, sorted by name."""
        pools = []
        for name in sorted({*self.capacity, *self.in_use}):
            holders = [
                {"run_id": run_id, "task_id": task_id, "amount": amount}
                for (run_id, task_id), amount in self._by_pool.get(name, {}).items()
            ]
            pools.append(
                {
                    "name": name,
                    "capacity": self.capacity.get(name, 0),
                    "in_use": self.in_use.get(name, 0),
                    "holders": holders,
                }
            )
        return pools

    @property
    def reserved_for(self) -> Key | None:
        """The waiting task holding the head-of-line reservation, if any."""
        return self._reservation.key if self._reservation is not None else None

    def _take(self, key: Key, request: dict[str, int]) -> None:
        self.forget(key)
        self.held[key] = request
        for pool, amount in request.items():
            self.in_use[pool] = self.in_use.get(pool, 0) + amount
            self._by_pool.setdefault(pool, {})[key] = amount

    def _busy_reason(self, short: Shortfall) -> str:
        holders = list(self._by_pool.get(short.pool, {}))
        used = show_amount(short.pool, short.in_use)
        total = show_amount(short.pool, short.capacity)
        if not holders:
            return defer(
                "waiting for {pool}: {used}/{total} in use", pool=short.pool, used=used, total=total
            )
        run_id, task_id = holders[0]
        if len(holders) == 1:
            return defer(
                "waiting for {pool}: {used}/{total} in use by run {run} task {task}",
                pool=short.pool,
                used=used,
                total=total,
                run=run_id,
                task=task_id,
            )
        return defer(
            "waiting for {pool}: {used}/{total} in use by run {run} task {task} and {more} more",
            pool=short.pool,
            used=used,
            total=total,
            run=run_id,
            task=task_id,
            more=len(holders) - 1,
        )

    def _impossible_reason(self, short: Shortfall) -> str:
        return defer(
            "waiting for {pool}: needs {wanted} but its capacity is {total}; raise it with"
            " basir resources pool set",
            pool=short.pool,
            wanted=show_amount(short.pool, short.wanted),
            total=show_amount(short.pool, short.capacity),
        )
