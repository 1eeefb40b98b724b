"""A small read-through cache for hot listings, invalidated by every committed event.

`GET /runs` is what dashboards and scripts poll.  Its pages change only when a run changes,
and every run change is a committed event on the bus, so a page stays valid until the next
event.  A generation counter closes the race where a read started before a commit would
store a stale page after it: a result is kept only if no event arrived while it was read.
A short TTL bounds staleness from writers this process does not hear (other servers).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable

from basir.events.bus import EventBus, Subscription
from basir.store.records import EventRecord

LIST_CACHE_TTL_S = 1.0
LIST_CACHE_MAX_ENTRIES = 256


class ListCache:
    """Caches serialised pages by query key; any event on the bus empties it."""

    def __init__(
        self,
        bus: EventBus,
        ttl_s: float = LIST_CACHE_TTL_S,
        max_entries: int = LIST_CACHE_MAX_ENTRIES,
    ) -> None:
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[bytes, float]] = OrderedDict()
        self._generation = 0
        # The filter is the hook: it runs synchronously inside `publish` for every event,
        # bumps the generation and admits nothing, so this subscription never queues.
        self._subscription: Subscription | None = (
            bus.subscribe(self._on_event) if ttl_s > 0 else None
        )

    def _on_event(self, event: EventRecord) -> bool:
        self._generation += 1
        self._entries.clear()
        return False

    async def get(self, key: Hashable, load: Callable[[], Awaitable[bytes]]) -> bytes:
        """The cached value of `key`, or `load()`'s result (kept if nothing changed meanwhile)."""
        if self._subscription is None:
            return await load()
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and entry[1] > now:
            return entry[0]
        generation = self._generation
        value = await load()
        if generation == self._generation:
            self._entries[key] = (value, now + self._ttl_s)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        return value

    def close(self) -> None:
        """Stop listening to the bus."""
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None
