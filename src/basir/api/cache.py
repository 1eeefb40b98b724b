"""A small read-through cache for hot listings, invalidated by every committed event.

`GET /runs` is what dashboards and scripts poll, and the dashboard's runs page is what
browsers keep open.  Their pages change only when a run changes, and every run change is a
committed event on the bus, so a page stays valid until the next event: any event empties the
cache, or any that `changes` admits (lists of runs ignore task events: `changes_runs`;
`invalidate` does the same for changes that publish no event, such as a workflow
applied).  Because the engine publishes a write's events before the request that made it
answers, a client that starts a run and then lists runs sees its run (read your writes).
Keys must hold everything the value depends on: the query, the page's language and what the
principal may see, so one principal's view is never served to another.  Three details keep
it correct and its latency flat:

- *Generations.*  A read that started before an event may finish after it; its result is
  kept only if no event arrived meanwhile, and requests that arrive after an event never
  join a read that started before it.
- *Single flight.*  Concurrent misses of one key share one store read instead of sending
  fifty identical queries at once (under load they queue behind each other for the GIL).
- *Stale while revalidate.*  The TTL only bounds staleness from writers this process does
  not hear (other servers on a shared PostgreSQL); when it lapses the old page is served once
  more while a single background read refreshes it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from basir.events.bus import EventBus, Subscription
from basir.store.records import EventRecord

LIST_CACHE_TTL_S = 1.0
LIST_CACHE_MAX_ENTRIES = 256
log = logging.getLogger(__name__)

V = TypeVar("V")


def changes_runs(event: EventRecord) -> bool:
    """Whether an event may change a listed run: every one but a task's.

    A run's listed fields change only in the engine's `Journal.run_to`, which records a
    `run.*` event in the same batch; task events (most of a busy engine's) leave lists of
    runs as they were, so caches of those lists need not be emptied by them.
    """
    return not event.type.startswith("task.")


Loader = Callable[[], Awaitable[V]]


class ListCache(Generic[V]):
    """Caches rendered pages (JSON bytes, HTML) by key; any event on the bus empties it."""

    def __init__(
        self,
        bus: EventBus,
        ttl_s: float = LIST_CACHE_TTL_S,
        max_entries: int = LIST_CACHE_MAX_ENTRIES,
        *,
        changes: Callable[[EventRecord], bool] | None = None,
    ) -> None:
        self._changes = changes
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[V, float]] = OrderedDict()
        self._inflight: dict[Hashable, asyncio.Future[V]] = {}
        self._refreshing: set[asyncio.Task[None]] = set()
        self._generation = 0
        # The filter is the hook: it runs synchronously inside `publish` for every event,
        # empties the cache and admits nothing, so this subscription never queues.
        self._subscription: Subscription | None = (
            bus.subscribe(self._on_event) if ttl_s > 0 else None
        )

    def _on_event(self, event: EventRecord) -> bool:
        if self._changes is None or self._changes(event):
            self.invalidate()
        return False

    def invalidate(self) -> None:
        """Forget every entry; reads already under way are not kept (a change they miss)."""
        self._generation += 1
        self._entries.clear()
        self._inflight.clear()

    async def get(self, key: Hashable, load: Loader[V]) -> V:
        """The cached value of `key`, else `load()`'s result, shared by concurrent callers."""
        if self._subscription is None:
            return await load()
        entry = self._entries.get(key)
        if entry is not None:
            if entry[1] <= time.monotonic() and key not in self._inflight:
                self._refresh_in_background(key, load)
            return entry[0]
        pending = self._inflight.get(key)
        if pending is None:
            pending = self._start(key, load)
        return await asyncio.shield(pending)

    def peek(self, key: Hashable) -> V | None:
        """The cached value of `key`, else None; nothing is loaded.  A value past its TTL is
        returned only while its refresh runs (as `get` would serve it)."""
        entry = self._entries.get(key) if self._subscription is not None else None
        if entry is None or (entry[1] <= time.monotonic() and key not in self._inflight):
            return None
        return entry[0]

    async def ready(self, key: Hashable) -> V | None:
        """`peek`, or the result of a load of `key` already under way; None when neither
        (nothing is loaded here: the caller that has the loader starts one)."""
        value = self.peek(key)
        if value is not None:
            return value
        pending = self._inflight.get(key) if self._subscription is not None else None
        if pending is None:
            return None
        try:
            return await asyncio.shield(pending)
        except Exception:
            return None  # the caller goes the long way and meets the error itself

    def _start(self, key: Hashable, load: Loader[V]) -> asyncio.Future[V]:
        generation = self._generation
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future

        async def run() -> None:
            try:
                value = await load()
            except asyncio.CancelledError:
                future.cancel()
                raise
            except Exception as error:
                future.set_exception(error)
                # Retrieved here so an error nobody awaited is not reported as lost.
                future.exception()
            else:
                future.set_result(value)
                if generation == self._generation:
                    self._store(key, value)
            finally:
                if self._inflight.get(key) is future:
                    del self._inflight[key]

        task = asyncio.create_task(run())
        self._refreshing.add(task)
        task.add_done_callback(self._refreshing.discard)
        return future

    def _refresh_in_background(self, key: Hashable, load: Loader[V]) -> None:
        future = self._start(key, load)

        def quiet(done: asyncio.Future[V]) -> None:
            if not done.cancelled() and done.exception() is not None:
                log.warning("refreshing a cached page failed: %s", done.exception())

        future.add_done_callback(quiet)

    def _store(self, key: Hashable, value: V) -> None:
        self._entries[key] = (value, time.monotonic() + self._ttl_s)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def close(self) -> None:
        """Stop listening to the bus and drop pending refreshes."""
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None
        for task in list(self._refreshing):
            task.cancel()


KNOWN_QUERIES_MAX = 1024


class KnownQueries:
    """Raw query strings a route has validated, with the cache key each stands for.

    A fast path may answer a query string found here from the cache without validating it
    again (it was valid, and validation depends on nothing else).  Bounded: emptied when
    full, so a client sending ever new queries costs a re-validation, nothing more.
    """

    def __init__(self, max_entries: int = KNOWN_QUERIES_MAX) -> None:
        self._max_entries = max_entries
        self._keys: dict[bytes, Hashable] = {}

    def learn(self, query_string: bytes, key: Hashable) -> None:
        """Remember that `query_string` is valid and stands for `key`."""
        if query_string not in self._keys and len(self._keys) >= self._max_entries:
            self._keys.clear()
        self._keys[query_string] = key

    def key_of(self, query_string: bytes) -> Hashable | None:
        """The key of a query string validated before, else None."""
        return self._keys.get(query_string)
