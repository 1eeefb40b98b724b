"""Admission by resources: the flow asks before it starts an attempt, and frees when it ends.

A task whose request does not fit now waits outside the ready queue, with its reason recorded
on its row (`tasks.waiting`, "waiting for cpu: 2/2 in use by run X task Y", kept as a deferred
message and shown in the reader's language, `basir.i18n.deferred`); when an attempt
ends, the tasks waiting for a pool it held go back into the ready queue (all of them when a
capacity changes) and are offered again in the scheduler's order.  The waiting policy
(smaller tasks pass a big one, which reserves its pools after a bounded wait) is the
allocator's (`resources.allocator`).

A task's request is its own `resources:`, else its file template's, else `defaults.resources`;
a task without any needs nothing and is never held back here.

Throttling (`scheduler.throttle`) is admitted here too, before resources and together with
them: a task's queue slot (`queue:`, else `defaults.queue`), its concurrency-key slot and a
rate token of its queue are taken only in the same step as its resources — all or none — and
the slots are given back with them.  Tasks held back by one of these limits wait in that
limit's line, in queue order (`scheduler.wait_lines`): a freed slot offers the first of the
line again, not all of them, and if that one still cannot start (it now waits for another
limit, or was cancelled) the next is offered, so a free slot is never left unused while
someone waits for it.  A rate-limited line is offered again as tokens come (a timer).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from basir.config import QueueLimit, Settings
from basir.engine.governor import Governor
from basir.engine.journal import Journal
from basir.engine.pool_config import shown
from basir.engine.rendering import Renderer
from basir.engine.state import RunState, TaskState
from basir.engine.timers import Timers
from basir.errors import BasirError
from basir.i18n import _, render_message
from basir.resources.allocator import Allocator, Key, Waiting
from basir.resources.capacity import pool_capacities
from basir.resources.fitting import MEMORY, request_of, to_amount
from basir.scheduler.fair_share import FairReadyQueue
from basir.scheduler.throttle import MAX_KEY_CHARS, Need, Shortage, Throttle
from basir.scheduler.wait_lines import WaitLines
from basir.spec.expr_ast import ExpressionError
from basir.spec.models import Resources
from basir.spec.templates import TemplateResolver
from basir.states import TaskStatus

log = logging.getLogger(__name__)

Push = Callable[[RunState, TaskState], None]
# Wait ids of throttling limits, each with its line (a quota's `quota:NS` is a pool-like wait).
LIMIT_PREFIXES = ("queue:", "key:", "rate:", "krate:")


def is_limit(on: str) -> bool:
    """Whether a wait id is a throttling limit's line rather than a pool (or a quota)."""
    return on.startswith(LIMIT_PREFIXES)


class EngineFlow(Protocol):
    """What admission uses of the engine's flow: its ready queue and timers."""

    ready: FairReadyQueue
    timers: Timers

    def push_ready(self, run: RunState, task: TaskState) -> None:
        """Put a queued task back in the ready queue."""


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
        self._flow: EngineFlow | None = None
        self._lines = WaitLines()  # tasks held back by a throttling limit, per wait id
        self._woken: dict[Key, tuple[str, TaskState]] = {}  # offered again for a freed limit
        self._keys: dict[Key, str] = {}  # a waiting task's rendered key, until it starts
        # What an admitted attempt started under: its queue, seconds held back by throttling.
        self.throttled_s: dict[Key, tuple[str | None, float]] = {}
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

    @classmethod
    def of(
        cls, settings: Settings, journal: Journal, renderer: Renderer, flow: EngineFlow
    ) -> Admission:
        """The admission of an engine: its pools, its queues, its renderer for keys, and the
        engine's flow (ready queue, timers), to offer held-back tasks again."""
        capacity = pool_capacities(settings.pools, data_dir=settings.home)
        admission = cls(capacity, journal, renderer.templates)
        admission.throttle = Throttle(settings.queues, time.time())
        admission._renderer = renderer
        admission._flow = flow
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
        value = self._keys.get((run.id, task.id))
        if value is None:  # rendered once while the task waits: its inputs do not change
            value = self._keys[(run.id, task.id)] = self.render(key_spec.key, run, task)
        return Need(queue, value, key_spec.holders, key_spec.per_value_rate)

    def render(self, text: str, run: RunState, task: TaskState | None) -> str:
        """A concurrency key's value: its expression rendered, at most `MAX_KEY_CHARS`."""
        if self._renderer is None:
            raise RuntimeError("admission is not bound to a renderer")
        try:
            value = self._renderer.text(text, run, task)
        except ExpressionError as exc:
            message = _(
                "the concurrency key {key} cannot be rendered: {error}", key=text, error=exc
            )
            raise BasirError("run.invalid_key", message) from exc
        if len(value) > MAX_KEY_CHARS:
            message = _(
                "the concurrency key is {count} characters long; at most {limit}",
                count=len(value),
                limit=MAX_KEY_CHARS,
            )
            raise BasirError("run.invalid_key", message)
        return value

    def resources_of(self, run: RunState, task: TaskState) -> Resources | None:
        """The task's `resources:`: its own, else its template's, else the workflow default."""
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
        return resources

    def request(self, run: RunState, task: TaskState) -> dict[str, int]:
        """What the task needs to start, as whole amounts per pool."""
        request = request_of(self.resources_of(run, task))
        if task.memory_limit is not None and MEMORY in request:  # grown by `retries.on_oom`
            request[MEMORY] = task.memory_limit
        return request

    def admit(self, run: RunState, task: TaskState) -> bool:
        """Take what the task needs and return True, or record why it waits and return False.

        Its throttling limits are checked first, taking nothing; then its resources are taken
        (all or none); only then its queue and key slots and a rate token.
        """
        key = (run.id, task.id)
        now = time.time()
        woken = self._woken.pop(key, None)
        need = self.need(run, task)
        blocked = self.throttle.check(key, need, now)
        self._unwait(key)
        if blocked is not None:
            self.allocator.forget(key)  # no resource reservation while throttled
            self._count_wait(key, now, None)  # waits for a limit, not a pool
            if blocked.retry_after_s is not None:
                self._wake_after(blocked.on, blocked.retry_after_s, run, task)
            self._wait(run, task, blocked.on, blocked.reason, woken)
            return False
        request = self.request(run, task)
        wait = self._governed(run, request, now)
        if wait is None and request:
            wait = self.allocator.acquire(key, request, now)
        if wait is not None:
            self._count_wait(key, now, wait.pool)
            self._wait(run, task, wait.pool, wait.reason, woken)
            return False
        self._count_wait(key, now, None)
        self.governor.took(run, key, request, now)
        throttled = self.throttle.take(key, need, now)
        if need.queue is not None or throttled > 0:
            self.throttled_s[key] = (need.queue, throttled)
        return True

    def shortage(self, run: RunState, task: TaskState) -> Shortage | None:
        """The queue and key slots the task lacks now, for preemption (`engine.preemption`);
        None when no queue, key or rate limit holds it back."""
        try:
            return self.throttle.shortage((run.id, task.id), self.need(run, task), time.time())
        except (BasirError, LookupError):  # an unknown queue or a bad key: fails when popped
            return Shortage("", {}, {}, {}, stuck=True)

    def started(self, run: RunState, task: TaskState) -> dict[str, Any]:
        """The row fields of an attempt admitted just now: its queue and time throttled.

        Empty when neither is set now nor was for an earlier attempt (no needless write).
        """
        self._keys.pop((run.id, task.id), None)
        queue, throttled = self.throttled_s.pop((run.id, task.id), (None, 0.0))
        fields: dict[str, Any] = {}
        if queue != task.queue:
            fields["queue"] = queue
        if throttled > 0 or task.throttled_s is not None:
            fields["throttled_s"] = round(throttled, 6) if throttled > 0 else None
        return fields

    def _wait(
        self,
        run: RunState,
        task: TaskState,
        on: str,
        reason: str,
        woken: tuple[str, TaskState] | None = None,
    ) -> None:
        key = (run.id, task.id)
        self.waiting[key] = (run, task, on)
        if is_limit(on):  # a throttling limit: its line, in queue order
            ready = self._flow.ready if self._flow is not None else None
            self._lines.add(on, ready.last_key if ready is not None else None, key)
        else:
            self._by_pool.setdefault(on, set()).add(key)
        if woken is not None and woken[0] != on:
            self._offer(woken[0])  # offered a freed limit it did not take: the next one is
        if task.waiting != reason:
            self.journal.task_row(run, task, waiting=reason)

    def _offer(self, on: str, count: int = 1) -> int:
        """Put the first `count` tasks of the line of `on` back in the ready queue."""
        offered = 0
        while offered < count and self._flow is not None:
            key = self._lines.pop(on, functools.partial(self._waits_on, on))
            if key is None:
                break
            run, task, _on = self.waiting[key]
            self._unwait(key)
            if task.status != TaskStatus.QUEUED or task.held:
                self.allocator.forget(key)
                self.throttle.forget(key)
                self._keys.pop(key, None)
                continue
            self._woken[key] = (on, task)
            self._flow.push_ready(run, task)
            offered += 1
        return offered

    def _waits_on(self, on: str, key: Key) -> bool:
        entry = self.waiting.get(key)
        return entry is not None and entry[2] == on

    def settle(self) -> None:
        """After a dispatch: a task offered a freed limit but gone meanwhile (cancelled, held)
        hands it on to the next of the line."""
        for key, (on, task) in list(self._woken.items()):
            if task.status != TaskStatus.QUEUED or task.held:
                del self._woken[key]
                self._offer(on)

    def _wake_after(self, on: str, delay_s: float, run: RunState, task: TaskState) -> None:
        """Offer the line of `on` (a rate limit) again once a token is there."""
        flow = self._flow
        if flow is not None and not flow.timers.armed(("", on)):
            action = functools.partial(self._rate_ready, on, run, task)
            flow.timers.arm(("", on), delay_s, run, task, action)

    def _rate_ready(self, on: str, run: RunState, task: TaskState) -> None:
        """Offer as many as there are tokens; while some still wait, come back per token."""
        if self._offer(on, max(1, self.throttle.tokens(on, time.time()))):
            self._wake_after(on, self.throttle.token_s(on), run, task)
            self.journal.wake()

    def set_queue(self, name: str, limit: QueueLimit) -> None:
        """Set or add a queue's limit now; the tasks waiting for it are offered again."""
        self.throttle.set_queue(name, limit, time.time())
        for on in (f"queue:{name}", f"rate:{name}"):
            self._offer(on, len(self.waiting))
        self.journal.wake()

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
        key = (run.id, task.id)
        self.allocator.forget(key)
        self.throttle.forget(key)
        self._count_wait(key, time.time(), None)
        self._keys.pop(key, None)
        woken = self._woken.pop(key, None)
        if woken is not None:
            self._offer(woken[0])

    def free(
        self, run: RunState, task: TaskState, push: Callable[[RunState, TaskState], None]
    ) -> None:
        """Release what the task's attempt held; offer again those waiting for those pools."""
        key = (run.id, task.id)
        for hook in self.on_free:
            hook(run, task)
        self.throttled_s.pop(key, None)
        self._keys.pop(key, None)
        freed: list[str] = self.throttle.release(key)
        held = self.allocator.held.get(key)
        namespace = self.governor.released(key)
        if held is not None and self.allocator.release(key):
            freed.extend(held)
        if namespace is not None:
            freed.append(f"quota:{namespace}")
        if freed:
            self.rewake(push, freed)

    def rewake(self, push: Push, pools: Iterable[str] | None = None) -> None:
        """Put the tasks waiting for `pools` (all when None) back into the ready queue.

        Only those: a task waits for the first pool it is short of, and nothing else freed can
        make it fit, so a release costs the waiters of its pools, not all 10,000 waiting.
        They are offered again in queue order (each keeps its order key).  For a throttling
        limit (`queue:`, `key:`), only the first of its line is offered (`_offer`).
        """
        if pools is None:
            keys = list(self.waiting)
        else:
            keys = []
            for pool in pools:
                if is_limit(pool):
                    self._offer(pool)
                else:
                    keys.extend(self._by_pool.get(pool, ()))
        for key in keys:
            entry = self._unwait(key)
            if entry is None:
                continue
            run, task = entry
            if task.status != TaskStatus.QUEUED or task.held:
                self.allocator.forget(key)
                self._count_wait(key, time.time(), None)
                self.throttle.forget(key)
                continue
            push(run, task)

    def _unwait(self, key: Key) -> tuple[RunState, TaskState] | None:
        entry = self.waiting.pop(key, None)
        if entry is None:
            return None
        run, task, pool = entry
        waiters = self._by_pool.get(pool) if not is_limit(pool) else None
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
        reason (in the active locale)."""
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
                "reason": render_message(task.waiting),
                "reserved": (run.id, task.id) == reserved,
            }
            for run, task, pool in self.waiting.values()
            if task.status == TaskStatus.QUEUED and not is_limit(pool)  # a pool, not a limit
        ]
        return {"pools": pools, "waiting": waiting}

    def queues_status(self) -> dict[str, Any]:
        """Every queue (limit, in use, by whom), keys in use, tasks held back by throttling."""
        now = time.time()
        held = [
            ((run.id, task.id), on, task.waiting)
            for run, task, on in self.waiting.values()
            if task.status == TaskStatus.QUEUED and is_limit(on)
        ]
        waiting = [
            {
                "run_id": key[0],
                "task_id": key[1],
                "on": on,
                "reason": render_message(reason),
                "waited_s": round(self.throttle.waited_s(key, now), 3),
            }
            for key, on, reason in held
        ]
        snapshot = self.throttle.snapshot(now, ((key, on) for key, on, _reason in held))
        return {**snapshot, "waiting": waiting}
