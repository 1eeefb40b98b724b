"""Throttling of task starts: named queues, concurrency keys and token-bucket rate limits (pure).

A task may be in one named queue (`queue:`, limits from `BASIR_QUEUES`: running tasks at once
and starts per time unit) and under one concurrency key (`concurrency_key:`, a limit per key
value).  `check` says whether every limit allows one more start *now*, taking nothing; `take`
then takes all of them at once — the engine calls it only after the task's resources were
granted too (`engine.admission`), so a task never holds a slot while it waits for another.
`release` gives the slots back when the holder's attempt ends, however it ends; rate tokens
are spent, never given back.

Each limit has a wait id (`queue:<name>`, `key:<value>`, `rate:<name>`), under which the
engine files the tasks it holds back and wakes them when that limit frees.  Time is passed in
(`now`, seconds), so every decision is a pure function of the calls made.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from basir.config import MAX_QUEUE_RATE, QueueLimit, describe_rate
from basir.i18n import _, defer, lazy
from basir.i18n.deferred import Lazy

Key = tuple[str, str]
MAX_KEY_CHARS = 256
MAX_KEY_BUCKETS = 10_000  # beyond this, full (idle) per-value buckets are dropped


@dataclass(frozen=True, slots=True)
class Need:
    """The limits one task starts under: its queue, its concurrency key value and limit."""

    queue: str | None = None
    key: str | None = None
    key_limit: int | None = 1  # None: no cap on holders of the key value
    key_rate: tuple[int, float] | None = None  # starts per seconds, per key value

    def __bool__(self) -> bool:
        return self.queue is not None or self.key is not None


@dataclass(frozen=True, slots=True)
class Blocked:
    """Why a start is not allowed now: the wait id, the reason (a deferred
    message, `basir.i18n.defer`), when to retry."""

    on: str
    reason: str
    retry_after_s: float | None = None  # rate limits only: when the next token is there


@dataclass(frozen=True, slots=True)
class Shortage:
    """What a start lacks of queue and key slots now, as pools for preemption.

    Pools `queue:NAME` and `key:VALUE`, one unit per holder; `stuck`: a rate limit holds the
    start back too (its tokens are spent: no stop brings one back).
    """

    on: str  # the first limit that holds it back (`queue:NAME`, `key:VALUE`, `rate:NAME`)
    request: dict[str, int]
    capacity: dict[str, int]
    in_use: dict[str, int]
    stuck: bool = False
    retry_after_s: float | None = None  # stuck on a rate: when its next token is there


class UnknownQueueError(LookupError):
    """A task names a queue that is not configured: it could never start."""


class TokenBucket:
    """`rate` tokens, refilled continuously at `rate` per `per_s` seconds; one per start."""

    __slots__ = ("at", "capacity", "per_token_s", "tokens")

    def __init__(self, rate: int, per_s: float, now: float) -> None:
        self.capacity = float(rate)
        self.per_token_s = per_s / rate
        self.tokens = float(rate)
        self.at = now

    def _refill(self, now: float) -> None:
        if now > self.at:
            self.tokens = min(self.capacity, self.tokens + (now - self.at) / self.per_token_s)
            self.at = now

    def wait_s(self, now: float) -> float:
        """Seconds until a token is there (0: one is there now)."""
        self._refill(now)
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) * self.per_token_s

    def take(self, now: float) -> None:
        """Spend one token (the caller checked `wait_s` first)."""
        self._refill(now)
        self.tokens -= 1.0


class Throttle:
    """Queue slots, key slots and rate buckets with their holders; all-or-nothing."""

    def __init__(self, queues: Mapping[str, QueueLimit], now: float = 0.0) -> None:
        self.queues: dict[str, QueueLimit] = dict(queues)
        self.held: dict[Key, Need] = {}
        self._queue_holders: dict[str, dict[Key, None]] = {}
        self._key_holders: dict[str, dict[Key, None]] = {}
        self._buckets: dict[str, TokenBucket] = {
            name: TokenBucket(limit.rate, limit.per_s, now)
            for name, limit in self.queues.items()
            if limit.rate is not None
        }
        self._key_buckets: dict[str, tuple[tuple[int, float], TokenBucket]] = {}
        self._since: dict[Key, float] = {}  # since when a task is held back here, now
        self._spent: dict[Key, float] = {}  # seconds it was held back here before that

    def check(self, key: Key, need: Need, now: float) -> Blocked | None:
        """None when every limit of `need` allows one more start now; else the first that does
        not (queue slots, then key slots, then the rate).  Takes nothing.

        A queue that is not configured raises `UnknownQueueError`: the task would wait for ever.
        """
        if key in self.held or not need:
            return None
        blocked = self._blocked(need, now)
        if blocked is None:  # a span held back here ends (it may wait for resources next)
            since = self._since.pop(key, None)
            if since is not None:
                self._spent[key] = self._spent.get(key, 0.0) + max(0.0, now - since)
            return None
        self._since.setdefault(key, now)
        return blocked

    def shortage(self, key: Key, need: Need, now: float) -> Shortage | None:
        """None when every limit of `need` allows a start now (or `key` holds them already);
        else the queue and key slots it lacks, for preemption.  Takes and records nothing."""
        if key in self.held or not need:
            return None
        blocked = self._blocked(need, now)
        if blocked is None:
            return None
        request: dict[str, int] = {}
        capacity: dict[str, int] = {}
        in_use: dict[str, int] = {}
        limit = self.queues.get(need.queue) if need.queue is not None else None
        if limit is not None and limit.slots is not None:
            pool = f"queue:{need.queue}"
            request[pool], capacity[pool] = 1, limit.slots
            in_use[pool] = len(self._queue_holders.get(need.queue or "", {}))
        if need.key is not None and need.key_limit is not None:
            pool = f"key:{need.key}"
            request[pool], capacity[pool] = 1, need.key_limit
            in_use[pool] = len(self._key_holders.get(need.key, {}))
        bucket = self._buckets.get(need.queue) if need.queue is not None else None
        entry = self._key_buckets.get(need.key) if need.key is not None else None
        waits = [bucket.wait_s(now)] if bucket is not None else []
        if entry is not None and entry[0] == need.key_rate:
            waits.append(entry[1].wait_s(now))
        wait = max(waits, default=0.0)
        return Shortage(blocked.on, request, capacity, in_use, wait > 0, wait or None)

    def holds(self, key: Key) -> dict[str, int]:
        """The queue and key slots `key` holds, as `shortage` names them."""
        need = self.held.get(key)
        if need is None:
            return {}
        held = {f"queue:{need.queue}": 1} if need.queue is not None else {}
        if need.key is not None:
            held[f"key:{need.key}"] = 1
        return held

    def _bucket_of(self, on: str) -> TokenBucket | None:
        kind, _sep, name = on.partition(":")
        if kind == "rate":
            return self._buckets.get(name)
        entry = self._key_buckets.get(name) if kind == "krate" else None
        return entry[1] if entry is not None else None

    def tokens(self, on: str, now: float) -> int:
        """Whole tokens of the rate limit `on` (`rate:Q`, `krate:K`) now (many when none)."""
        bucket = self._bucket_of(on)
        if bucket is None:
            return MAX_QUEUE_RATE
        bucket.wait_s(now)
        return int(bucket.tokens)

    def token_s(self, on: str) -> float:
        """Seconds between two tokens of the rate limit `on` (0 when there is none)."""
        bucket = self._bucket_of(on)
        return 0.0 if bucket is None else bucket.per_token_s

    def _key_bucket(self, key: str, rate: tuple[int, float], now: float) -> TokenBucket:
        entry = self._key_buckets.get(key)
        if entry is None or entry[0] != rate:
            if len(self._key_buckets) >= MAX_KEY_BUCKETS:
                self._prune(now)
            entry = self._key_buckets[key] = (rate, TokenBucket(rate[0], rate[1], now))
        return entry[1]

    def _prune(self, now: float) -> None:
        """Drop the per-value buckets that are full again: a new one would be the same."""
        for key, (_rate, bucket) in list(self._key_buckets.items()):
            if bucket.wait_s(now) == 0.0 and bucket.tokens >= bucket.capacity:
                del self._key_buckets[key]

    def set_queue(self, name: str, limit: QueueLimit, now: float) -> None:
        """Set or add a queue's limit; lowering it never takes back a slot already held.

        A changed rate starts from a full bucket; an unchanged one keeps its tokens.
        """
        old = self.queues.get(name)
        self.queues[name] = limit
        if limit.rate is None:
            self._buckets.pop(name, None)
        elif old is None or (old.rate, old.per_s) != (limit.rate, limit.per_s):
            self._buckets[name] = TokenBucket(limit.rate, limit.per_s, now)

    def _blocked(self, need: Need, now: float) -> Blocked | None:
        if need.queue is not None:
            limit = self.queues.get(need.queue)
            if limit is None:
                message = _(
                    "queue {queue} does not exist; queues: {queues} (queues are set with"
                    " BASIR_QUEUES)",
                    queue=need.queue,
                    queues=", ".join(sorted(self.queues)) or "-",
                )
                raise UnknownQueueError(message)
            holders = self._queue_holders.get(need.queue, {})
            if limit.slots is not None and len(holders) >= limit.slots:
                used = _holders(holders)
                reason = defer(
                    "waiting for queue {queue}: {used}/{total} in use by {holders}",
                    queue=need.queue,
                    used=len(holders),
                    total=limit.slots,
                    holders=used,
                )
                return Blocked(f"queue:{need.queue}", reason)
        if need.key is not None:
            holders = self._key_holders.get(need.key, {})
            if need.key_limit is not None and len(holders) >= need.key_limit:
                reason = defer(
                    "waiting for concurrency key {key}: {used}/{total} in use by {holders}",
                    key=need.key,
                    used=len(holders),
                    total=need.key_limit,
                    holders=_holders(holders),
                )
                return Blocked(f"key:{need.key}", reason)
        queue = need.queue
        bucket = self._buckets.get(queue) if queue is not None else None
        if queue is not None and bucket is not None:
            wait = bucket.wait_s(now)
            if wait > 0:
                reason = defer(
                    "rate limited on queue {queue}: at most {rate}",
                    queue=queue,
                    rate=describe_rate(self.queues[queue].rate or 1, self.queues[queue].per_s),
                )
                return Blocked(f"rate:{queue}", reason, wait)
        if need.key is not None and need.key_rate is not None:
            wait = self._key_bucket(need.key, need.key_rate, now).wait_s(now)
            if wait > 0:
                reason = defer(
                    "rate limited on concurrency key {key}: at most {rate}",
                    key=need.key,
                    rate=describe_rate(*need.key_rate),
                )
                return Blocked(f"krate:{need.key}", reason, wait)
        return None

    def take(self, key: Key, need: Need, now: float) -> float:
        """Take every limit of `need` for `key` (the caller checked first); returns the seconds
        `key` was held back by these limits since it last started (0 if never)."""
        since = self._since.pop(key, None)
        spent = self._spent.pop(key, 0.0) + (0.0 if since is None else max(0.0, now - since))
        if not need or key in self.held:
            return spent
        self.held[key] = need
        if need.queue is not None:
            self._queue_holders.setdefault(need.queue, {})[key] = None
            bucket = self._buckets.get(need.queue)
            if bucket is not None:
                bucket.take(now)
        if need.key is not None:
            self._key_holders.setdefault(need.key, {})[key] = None
            if need.key_rate is not None:
                self._key_bucket(need.key, need.key_rate, now).take(now)
        return spent

    def release(self, key: Key) -> list[str]:
        """Give back the slots `key` holds; returns the wait ids that may now admit someone."""
        self.forget(key)
        need = self.held.pop(key, None)
        if need is None:
            return []
        freed: list[str] = []
        if need.queue is not None:
            _drop(self._queue_holders, need.queue, key)
            freed.append(f"queue:{need.queue}")
        if need.key is not None:
            _drop(self._key_holders, need.key, key)
            freed.append(f"key:{need.key}")
        return freed

    def forget(self, key: Key) -> None:
        """`key` no longer waits (cancelled, paused, held back by its run): drop its wait."""
        self._since.pop(key, None)
        self._spent.pop(key, None)

    def waited_s(self, key: Key, now: float) -> float:
        """Seconds `key` has been held back by these limits so far (0 when it is not)."""
        since = self._since.get(key)
        return self._spent.get(key, 0.0) + (0.0 if since is None else max(0.0, now - since))

    def snapshot(self, now: float = 0.0, waiting: Iterable[tuple[Key, str]] = ()) -> dict[str, Any]:
        """Every queue (limit, in use, holders, how many wait for it and the longest wait)
        and every key in use, sorted by name.  `waiting`: the held-back tasks with their wait
        ids; a task waits for a queue when its slots or its rate hold it back."""
        waits: dict[str, list[float]] = {}
        for key, on in waiting:
            kind, _sep, name = on.partition(":")
            if kind in ("queue", "rate"):
                waits.setdefault(name, []).append(self.waited_s(key, now))
        queues = []
        for name in sorted(self.queues):
            limit = self.queues[name]
            holders = self._queue_holders.get(name, {})
            waited = waits.get(name, [])
            queues.append(
                {
                    "name": name,
                    "limit": limit.describe(),
                    "slots": limit.slots,
                    "rate": None if limit.rate is None else describe_rate(limit.rate, limit.per_s),
                    "in_use": len(holders),
                    "holders": [{"run_id": r, "task_id": t} for r, t in holders],
                    "waiting": len(waited),
                    "longest_wait_s": round(max(waited), 3) if waited else None,
                }
            )
        keys = [
            {
                "key": value,
                "in_use": len(holders),
                "holders": [{"run_id": r, "task_id": t} for r, t in holders],
            }
            for value, holders in sorted(self._key_holders.items())
        ]
        return {"queues": queues, "keys": keys}


def _holders(holders: Mapping[Key, None]) -> Lazy | str:
    first = next(iter(holders), None)
    if first is None:
        return "-"
    if len(holders) == 1:
        return lazy("run {run} task {task}", run=first[0], task=first[1])
    return lazy(
        "run {run} task {task} and {more} more", run=first[0], task=first[1], more=len(holders) - 1
    )


def _drop(table: dict[str, dict[Key, None]], name: str, key: Key) -> None:
    holders = table.get(name)
    if holders is not None:
        holders.pop(key, None)
        if not holders:
            del table[name]
