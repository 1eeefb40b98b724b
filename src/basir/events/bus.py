"""In-process fan-out of committed events to live subscribers (SSE streams, the CLI's display).

The engine publishes only after the store has committed (durable before visible).  A slow
subscriber never blocks the engine: its bounded queue overflows, it is marked `lagged`, and it
must replay from the store using the last event id it saw.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable

from basir.store.records import EventRecord

SUBSCRIBER_QUEUE_SIZE = 10_000


class Subscription:
    """One subscriber's bounded queue of events, with an optional filter."""

    def __init__(self, bus: EventBus, accept: Callable[[EventRecord], bool] | None) -> None:
        self._bus = bus
        self._accept = accept
        self._queue: asyncio.Queue[EventRecord] = asyncio.Queue(SUBSCRIBER_QUEUE_SIZE)
        self.lagged = False

    def offer(self, event: EventRecord) -> None:
        """Queue an event if it passes the filter; mark the subscription lagged when full."""
        if self._accept is not None and not self._accept(event):
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.lagged = True

    async def get(self) -> EventRecord:
        """The next event (waits)."""
        return await self._queue.get()

    def get_nowait(self) -> EventRecord | None:
        """The next queued event, or None."""
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            return None

    def close(self) -> None:
        """Stop receiving events."""
        self._bus.unsubscribe(self)

    async def __aiter__(self) -> AsyncIterator[EventRecord]:
        while True:
            yield await self._queue.get()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventBus:
    """Broadcasts committed events to every current subscriber, on the event loop's thread."""

    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()

    def subscribe(self, accept: Callable[[EventRecord], bool] | None = None) -> Subscription:
        """A new subscription receiving every later event that `accept` (if given) admits."""
        subscription = Subscription(self, accept)
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget a subscription (idempotent)."""
        self._subscribers.discard(subscription)

    def publish(self, events: Iterable[EventRecord]) -> None:
        """Hand committed events to every subscriber; never blocks."""
        if not self._subscribers:
            return
        for event in events:
            for subscription in tuple(self._subscribers):
                subscription.offer(event)

    @property
    def subscriber_count(self) -> int:
        """How many subscriptions are open (for metrics)."""
        return len(self._subscribers)
