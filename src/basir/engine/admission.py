"""Admission by resources: the flow asks before it starts an attempt, and frees when it ends.

A task whose request does not fit now waits outside the ready queue, with its reason recorded
on its row (`tasks.waiting`, "waiting for cpu: 2/2 in use by run X task Y"); when an attempt
ends, the tasks waiting for a pool it held go back into the ready queue (all of them when a
capacity changes) and are offered again in the scheduler's order.  The waiting policy
(smaller tasks pass a big one, which reserves its pools after a bounded wait) is the
allocator's (`resources.allocator`).

A task's request is its own `resources:`, else its file template's, else `defaults.resources`;
a task without any needs nothing and is never held back here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from basir.config import MAX_POOL_SLOTS
from basir.engine.governor import Governor
from basir.engine.journal import Journal
from basir.engine.state import RunState, TaskState
from basir.errors import BasirError, NotFoundError
from basir.i18n import _
from basir.resources.allocator import Allocator, Key, Waiting
from basir.resources.capacity import disk_free_bytes
from basir.resources.fitting import CPU, DISK, MEMORY, MILLI, SIZED, request_of, to_amount
from basir.spec.models import Resources
from basir.spec.templates import TemplateResolver
from basir.spec.units import parse_size
from basir.states import TaskStatus
from basir.store.base import KeyValueStore

log = logging.getLogger(__name__)

POOL_KIND = "resource_pool"  # store kv: capacity overrides set through the API, by pool name


def shown(pool: str, amount: int) -> float | int:
    """An amount in the unit people use: cores (may be fractional) for cpu, else as is."""
    return amount / MILLI if pool == CPU else amount


def checked_capacity(pool: str, value: object, known: Mapping[str, int]) -> float:
    """A new capacity for an existing pool, as stored: cores for cpu, bytes for memory, slots.

    Memory may be written as a size (`"16Gi"`).  A pool that does not exist is
    `resources.pool_not_found` (new pools come from `BASIR_POOLS`); a capacity that is not a
    positive amount (whole for slots) is `resources.invalid_capacity`.
    """
    if pool not in known:
        message = _(
            "pool {pool} does not exist; pools: {pools} (custom pools are set with BASIR_POOLS)",
            pool=pool,
            pools=", ".join(sorted(known)),
        )
        raise NotFoundError("resources.pool_not_found", message)
    amount: float | None = None
    try:
        if pool in SIZED:
            amount = float(parse_size(value))
        elif isinstance(value, int | float | str) and not isinstance(value, bool):
            amount = float(value)
    except ValueError:
        amount = None
    whole = pool == CPU or (amount is not None and amount.is_integer())
    if (
        amount is None
        or not whole
        or not 0 < amount <= (1 << 50 if pool in SIZED else MAX_POOL_SLOTS)
    ):
        message = _(
            "{value} is not a capacity for pool {pool}: give cores for cpu (0.5), a size for"
            " memory (16Gi), a whole number of slots otherwise",
            value=value,
            pool=pool,
        )
        raise BasirError("resources.invalid_capacity", message)
    return amount if pool == CPU else int(amount)


async def configured_pools(
    store: KeyValueStore, custom: Mapping[str, float], data_dir: Path | None = None
) -> dict[str, float]:
    """The custom pools (`BASIR_POOLS`) with the capacity overrides kept in the store on top.

    What an embedded `basir run` or `workflows apply` checks requests against, as the engine
    that will run them does (cores for cpu, bytes for memory and disk, slots); with
    `data_dir`, `disk` is its free space unless configured.
    """
    pools = dict(custom)
    if data_dir is not None and DISK not in pools:
        pools[DISK] = disk_free_bytes(data_dir)
    for name, override in await store.kv_list(POOL_KIND):
        pools[name] = override["capacity"]
    return pools


class Admission:
    """The engine's allocator plus the tasks waiting for it."""

    def __init__(self, capacity: Mapping[str, int], journal: Journal, templates: TemplateResolver):
        self.allocator = Allocator(capacity)
        self.journal = journal
        self.templates = templates
        self.waiting: dict[Key, tuple[RunState, TaskState, str]] = {}  # + the pool
        self._by_pool: dict[str, set[Key]] = {}  # who waits for each pool
        # Seconds tasks have waited, per pool (the bottleneck analysis reads it, as the metric
        # `basir_pool_wait_seconds`); each waiter's wait is counted up to `_counted[key]`.
        self.wait_s: dict[str, float] = {}
        self._counted: dict[Key, tuple[float, str]] = {}
        # Told when an attempt's resources are freed, whatever its end (usage sampler, sweeper).
        self.on_free: list[Callable[[RunState, TaskState], None]] = []
        # Reservations and namespace quotas (`engine.governor`); a wait they cause that ends
        # at a known time (a window closing, the hourly run rate) calls `on_time` then.
        self.governor = Governor()
        self.on_time: Callable[[], None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0

    def request(self, run: RunState, task: TaskState) -> dict[str, int]:
        """What the task needs to start, as whole amounts per pool."""
        spec = task.spec
        resources: Resources | None = spec.resources
        if resources is None and spec.uses is not None:
            try:
                body = self.templates.resolve(spec.uses).task
            except Exception:  # an unknown template fails when the body is rendered
                body = None
            resources = body.resources if body is not None else None
        if resources is None:
            resources = run.spec.defaults.resources
        request = request_of(resources)
        if task.memory_limit is not None and MEMORY in request:  # grown by `retries.on_oom`
            request[MEMORY] = task.memory_limit
        return request

    def admit(self, run: RunState, task: TaskState) -> bool:
        """Take what the task needs and return True, or record why it waits and return False."""
        request = self.request(run, task)
        key = (run.id, task.id)
        now = time.time()
        wait = self._governed(run, request, now)
        if wait is None and request:
            wait = self.allocator.acquire(key, request, now)
        self._unwait(key)
        if wait is None:
            self._count_wait(key, now, None)
            self.governor.took(run, key, request, now)
            return True
        self._count_wait(key, now, wait.pool)
        self.waiting[key] = (run, task, wait.pool)
        self._by_pool.setdefault(wait.pool, set()).add(key)
        if task.waiting != wait.reason:
            self.journal.task_row(run, task, waiting=wait.reason)
        return False

    def _governed(self, run: RunState, request: Mapping[str, int], now: float) -> Waiting | None:
        """The wait a quota or another holder's reservation imposes, if any."""
        allocator = self.allocator
        found = self.governor.check(run, request, allocator.capacity, allocator.in_use, now)
        if found is None:
            return None
        pool, block = found
        if block.retry_at is not None:
            self._arm(block.retry_at, now)
        return Waiting(pool, block.reason)

    def _arm(self, at: float, now: float) -> None:
        """Offer the waiting tasks again at `at` (the earliest such time wins)."""
        if self._timer is not None and self._timer_at <= at:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a pure caller): nothing to wake
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = loop.call_later(max(0.0, at - now) + 0.001, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self.on_time is not None:
            self.on_time()

    def run_ended(self, run: RunState, push: Callable[[RunState, TaskState], None]) -> None:
        """A run ended: it no longer counts among its namespace's active runs."""
        self.governor.run_ended(run)
        self.rewake(push, {f"quota:{run.record.namespace}": 0})

    def hold_back(self, run: RunState, task: TaskState) -> None:
        """The task is held back for another reason (its run's limits): it waits for nothing."""
        self.allocator.forget((run.id, task.id))
        self._count_wait((run.id, task.id), time.time(), None)

    def free(
        self, run: RunState, task: TaskState, push: Callable[[RunState, TaskState], None]
    ) -> None:
        """Release what the task's attempt held; offer again those waiting for those pools."""
        key = (run.id, task.id)
        for hook in self.on_free:
            hook(run, task)
        held = self.allocator.held.get(key)
        namespace = self.governor.released(key)
        if held is not None and self.allocator.release(key):
            self.rewake(push, held)
        if namespace is not None:
            self.rewake(push, {f"quota:{namespace}": 0})

    def rewake(
        self, push: Callable[[RunState, TaskState], None], pools: Mapping[str, int] | None = None
    ) -> None:
        """Put the tasks waiting for `pools` (all when None) back into the ready queue.

        Only those: a task waits for the first pool it is short of, and nothing else freed can
        make it fit, so a release costs the waiters of its pools, not all 10,000 waiting.
        They are offered again in queue order (each keeps its order key).
        """
        if pools is None:
            keys = list(self.waiting)
        else:
            keys = [key for pool in pools for key in self._by_pool.get(pool, ())]
        for key in keys:
            entry = self._unwait(key)
            if entry is None:
                continue
            run, task = entry
            if task.status != TaskStatus.QUEUED or task.held:
                self.allocator.forget(key)
                self._count_wait(key, time.time(), None)
                continue
            push(run, task)

    def _unwait(self, key: Key) -> tuple[RunState, TaskState] | None:
        entry = self.waiting.pop(key, None)
        if entry is None:
            return None
        run, task, pool = entry
        waiters = self._by_pool.get(pool)
        if waiters is not None:
            waiters.discard(key)
            if not waiters:
                del self._by_pool[pool]
        return run, task

    def _count_wait(self, key: Key, now: float, pool: str | None) -> None:
        """Add the time `key` has waited since last counted to its pool; `pool` None: it stops."""
        counted = self._counted.pop(key, None)
        if counted is not None:
            since, was = counted
            self.wait_s[was] = self.wait_s.get(was, 0.0) + max(0.0, now - since)
        if pool is not None:
            self._counted[key] = (now, pool)

    def wait_totals(self, now: float) -> dict[str, float]:
        """Seconds tasks have waited per pool until `now`, the current waits included."""
        for key, (_since, pool) in list(self._counted.items()):
            entry = self.waiting.get(key)
            still = entry is not None and entry[1].status == TaskStatus.QUEUED
            self._count_wait(key, now, pool if still else None)
        return dict(self.wait_s)

    def set_capacity(
        self, pool: str, capacity: float, push: Callable[[RunState, TaskState], None]
    ) -> None:
        """Change a pool's capacity now (cores for cpu); waiting tasks are offered again."""
        self.allocator.set_capacity(pool, to_amount(pool, capacity))
        self.rewake(push)

    def status(self) -> dict[str, Any]:
        """Every pool (capacity, in use, by whom, reserved now) and every waiting task with its
        reason."""
        pools = []
        waited = self.wait_totals(time.time())
        held_for = self.governor.reserved_now(time.time())
        for entry in self.allocator.snapshot():
            name = entry["name"]
            holders = [{**h, "amount": shown(name, h["amount"])} for h in entry["holders"]]
            pools.append(
                {
                    "name": name,
                    "capacity": shown(name, entry["capacity"]),
                    "in_use": shown(name, entry["in_use"]),
                    "reserved": shown(name, held_for.get(name, 0)),
                    "holders": holders,
                    "waiting": len(self._by_pool.get(name, ())),
                    "waited_s": round(waited.get(name, 0.0), 3),
                }
            )
        reserved = self.allocator.reserved_for
        waiting = [
            {
                "run_id": run.id,
                "task_id": task.id,
                "pool": pool,
                "reason": task.waiting,
                "reserved": (run.id, task.id) == reserved,
            }
            for run, task, pool in self.waiting.values()
            if task.status == TaskStatus.QUEUED
        ]
        return {"pools": pools, "waiting": waiting}
