"""Admission by resources: the flow asks before it starts an attempt, and frees when it ends.

A task whose request does not fit now waits outside the ready queue, with its reason recorded
on its row (`tasks.waiting`, "waiting for cpu: 2/2 in use by run X task Y"); when an attempt
ends, the tasks waiting for a pool it held go back into the ready queue (all of them when a
capacity changes) and are offered again in the scheduler's order.  The waiting policy
(smaller tasks pass a big one, which reserves its pools after a bounded wait) is the
allocator's (`resources.allocator`).

A task's request is its own `resources:`, else its file template's, else `defaults.resources`;
a task without any needs nothing and is never held back here.

Throttling (`scheduler.throttle`) is admitted here too, before resources and together with
them: a task's queue slot (`queue:`, else `defaults.queue`), its concurrency-key slot and a
rate token of its queue are taken only in the same step as its resources — all or none — and
the slots are given back with them.  A task held back by a rate limit is offered again when
the next token is there (a timer per queue).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from basir.config import MAX_POOL_SLOTS, QueueLimit, Settings
from basir.engine.journal import Journal
from basir.engine.rendering import Renderer
from basir.engine.state import RunState, TaskState
from basir.engine.timers import Timers
from basir.errors import BasirError, NotFoundError
from basir.i18n import _
from basir.resources.allocator import Allocator, Key
from basir.resources.capacity import pool_capacities
from basir.resources.fitting import CPU, MEMORY, MILLI, request_of, to_amount
from basir.scheduler.throttle import MAX_KEY_CHARS, Need, Throttle
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
        if pool == MEMORY:
            amount = float(parse_size(value))
        elif isinstance(value, int | float | str) and not isinstance(value, bool):
            amount = float(value)
    except ValueError:
        amount = None
    whole = pool == CPU or (amount is not None and amount.is_integer())
    if (
        amount is None
        or not whole
        or not 0 < amount <= (1 << 50 if pool == MEMORY else MAX_POOL_SLOTS)
    ):
        message = _(
            "{value} is not a capacity for pool {pool}: give cores for cpu (0.5), a size for"
            " memory (16Gi), a whole number of slots otherwise",
            value=value,
            pool=pool,
        )
        raise BasirError("resources.invalid_capacity", message)
    return amount if pool == CPU else int(amount)


async def configured_pools(store: KeyValueStore, custom: Mapping[str, float]) -> dict[str, float]:
    """The custom pools (`BASIR_POOLS`) with the capacity overrides kept in the store on top.

    What an embedded `basir run` or `workflows apply` checks requests against, as the engine
    that will run them does (cores for cpu, bytes for memory, slots).
    """
    pools = dict(custom)
    for name, override in await store.kv_list(POOL_KIND):
        pools[name] = override["capacity"]
    return pools


Push = Callable[[RunState, TaskState], None]


class Admission:
    """The engine's allocator and throttle, plus the tasks waiting for them."""

    def __init__(self, capacity: Mapping[str, int], journal: Journal, templates: TemplateResolver):
        self.allocator = Allocator(capacity)
        self.throttle = Throttle({})
        self.journal = journal
        self.templates = templates
        self.waiting: dict[Key, tuple[RunState, TaskState, str]] = {}  # + the pool or wait id
        self._by_pool: dict[str, set[Key]] = {}  # who waits for each pool (or wait id)
        self._renderer: Renderer | None = None
        self._push: Push | None = None
        self._timers: Timers | None = None  # wakes those held back by a rate limit
        # What an admitted attempt started under: its queue, seconds held back by throttling.
        self.throttled_s: dict[Key, tuple[str | None, float]] = {}

    @classmethod
    def of(
        cls, settings: Settings, journal: Journal, renderer: Renderer, push: Push, timers: Timers
    ) -> Admission:
        """The admission of an engine: its pools, its queues, its renderer for keys, and the
        engine's ready queue (`push`) and timers, to offer rate-limited tasks again."""
        admission = cls(pool_capacities(settings.pools), journal, renderer.templates)
        admission.throttle = Throttle(settings.queues, time.time())
        admission._renderer = renderer
        admission._push = push
        admission._timers = timers
        return admission

    @property
    def queues(self) -> list[str]:
        """The configured queue names: what a task's `queue:` may name."""
        return sorted(self.throttle.queues)

    def need(self, run: RunState, task: TaskState) -> Need:
        """The queue and concurrency key the task starts under (the key rendered now)."""
        spec = task.spec
        queue = spec.queue or run.spec.defaults.queue
        key_spec = spec.concurrency_key
        if key_spec is None:
            return Need(queue) if queue is not None else Need()
        key = self.render(key_spec.key, run, task)
        return Need(queue, key, key_spec.limit)

    def render(self, text: str, run: RunState, task: TaskState | None) -> str:
        """A concurrency key's value: its expression rendered, at most `MAX_KEY_CHARS`."""
        if self._renderer is None:
            raise RuntimeError("admission is not bound to a renderer")
        value = self._renderer.text(text, run, task)
        if len(value) > MAX_KEY_CHARS:
            message = _(
                "the concurrency key is {count} characters long; at most {limit}",
                count=len(value),
                limit=MAX_KEY_CHARS,
            )
            raise BasirError("run.invalid_key", message)
        return value

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
        return request_of(resources)

    def admit(self, run: RunState, task: TaskState) -> bool:
        """Take what the task needs and return True, or record why it waits and return False.

        Its throttling limits are checked first, taking nothing; then its resources are taken
        (all or none); only then its queue and key slots and a rate token.
        """
        key = (run.id, task.id)
        now = time.time()
        need = self.need(run, task)
        blocked = self.throttle.check(key, need, now)
        self._unwait(key)
        if blocked is not None:
            self.allocator.forget(key)  # no resource reservation while throttled
            if blocked.retry_after_s is not None:
                self._wake_after(blocked.on, blocked.retry_after_s, run, task)
            self._wait(run, task, blocked.on, blocked.reason)
            return False
        request = self.request(run, task)
        wait = self.allocator.acquire(key, request, now) if request else None
        if wait is not None:
            self._wait(run, task, wait.pool, wait.reason)
            return False
        throttled = self.throttle.take(key, need, now)
        if need.queue is not None or throttled > 0:
            self.throttled_s[key] = (need.queue, throttled)
        return True

    def started(self, run: RunState, task: TaskState) -> dict[str, Any]:
        """The row fields of an attempt admitted just now: its queue and time throttled.

        Empty when neither is set now nor was for an earlier attempt (no needless write).
        """
        queue, throttled = self.throttled_s.pop((run.id, task.id), (None, 0.0))
        fields: dict[str, Any] = {}
        if queue != task.queue:
            fields["queue"] = queue
        if throttled > 0 or task.throttled_s is not None:
            fields["throttled_s"] = round(throttled, 6) if throttled > 0 else None
        return fields

    def _wait(self, run: RunState, task: TaskState, on: str, reason: str) -> None:
        key = (run.id, task.id)
        self.waiting[key] = (run, task, on)
        self._by_pool.setdefault(on, set()).add(key)
        if task.waiting != reason:
            self.journal.task_row(run, task, waiting=reason)

    def _wake_after(self, on: str, delay_s: float, run: RunState, task: TaskState) -> None:
        """Offer the tasks waiting on `on` (a rate limit) again once a token is there."""
        timers = self._timers
        if timers is not None and not timers.armed(("", on)):
            timers.arm(("", on), delay_s, run, task, functools.partial(self._rate_ready, on))

    def _rate_ready(self, on: str) -> None:
        if self._push is not None:
            self.rewake(self._push, [on])
            self.journal.wake()

    def set_queue(self, name: str, limit: QueueLimit) -> None:
        """Set or add a queue's limit now; the tasks waiting for it are offered again."""
        self.throttle.set_queue(name, limit, time.time())
        if self._push is not None:
            self.rewake(self._push, [f"queue:{name}", f"rate:{name}"])
            self.journal.wake()

    def hold_back(self, run: RunState, task: TaskState) -> None:
        """The task is held back for another reason (its run's limits): it waits for nothing."""
        self.allocator.forget((run.id, task.id))
        self.throttle.forget((run.id, task.id))

    def free(
        self, run: RunState, task: TaskState, push: Callable[[RunState, TaskState], None]
    ) -> None:
        """Release what the task's attempt held; offer again those waiting for those pools."""
        key = (run.id, task.id)
        self.throttled_s.pop(key, None)
        freed: list[str] = self.throttle.release(key)
        held = self.allocator.held.get(key)
        if held is not None and self.allocator.release(key):
            freed.extend(held)
        if freed:
            self.rewake(push, freed)

    def rewake(self, push: Push, pools: Iterable[str] | None = None) -> None:
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
                self.throttle.forget(key)
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

    def set_capacity(
        self, pool: str, capacity: float, push: Callable[[RunState, TaskState], None]
    ) -> None:
        """Change a pool's capacity now (cores for cpu); waiting tasks are offered again."""
        self.allocator.set_capacity(pool, to_amount(pool, capacity))
        self.rewake(push)

    def status(self) -> dict[str, Any]:
        """Every pool (capacity, in use, by whom) and every waiting task with its reason."""
        pools = []
        for entry in self.allocator.snapshot():
            name = entry["name"]
            holders = [{**h, "amount": shown(name, h["amount"])} for h in entry["holders"]]
            pools.append(
                {
                    "name": name,
                    "capacity": shown(name, entry["capacity"]),
                    "in_use": shown(name, entry["in_use"]),
                    "holders": holders,
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
            if task.status == TaskStatus.QUEUED and ":" not in pool  # a pool, not a limit
        ]
        return {"pools": pools, "waiting": waiting}

    def queues_status(self) -> dict[str, Any]:
        """Every queue (limit, in use, by whom), keys in use, tasks held back by throttling."""
        waiting = [
            {"run_id": run.id, "task_id": task.id, "on": on, "reason": task.waiting}
            for run, task, on in self.waiting.values()
            if task.status == TaskStatus.QUEUED and ":" in on
        ]
        return {**self.throttle.snapshot(), "waiting": waiting}
