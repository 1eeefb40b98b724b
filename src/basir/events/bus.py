"""In-process fan-out of committed events to live subscribers (the CLI's display, caches,
alerting) and, once per batch, to the SSE fan-out hub (`basir.events.fanout`).

The engine publishes only after the store has committed (durable before visible).  A slow
subscriber never blocks the engine: its bounded queue overflows and then either it is marked
`lagged` (it must replay from the store using the last event id it saw) or, for a *droppable*
subscription, it is dropped at once: unsubscribed, its queue freed and its reader woken.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable

from basir.events.fanout import FanoutHub
from basir.store.records import EventRecord

SUBSCRIBER_QUEUE_SIZE = 10_000
STREAM_QUEUE_SIZE = 2_000


class Subscription:
    """One subscriber's bounded queue of events, with an optional filter."""

    def __init__(
        self,
        bus: EventBus,
        accept: Callable[[EventRecord], bool] | None,
        size: int,
        droppable: bool,
    ) -> None:
        self._bus = bus
        self._accept = accept
        self._size = size
        self._queue: asyncio.Queue[EventRecord] = asyncio.Queue(size)
        self._wake = asyncio.Event()
        self._droppable = droppable
        self.lagged = False
        self.dropped = False
        self.closed = False
        self.first_id = 0

    def offer(self, event: EventRecord) -> None:
        """Queue an event if it passes the filter; on a full queue mark lagged, or drop."""
        if self._accept is not None and not self._accept(event):
            return
        if not self.first_id:
            self.first_id = event.id
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.lagged = True
            if self._droppable:
                self.dropped = True
                self._queue = asyncio.Queue(self._size)  # free what it held
                self.close()
        self._wake.set()

    async def get(self) -> EventRecord:
        """The next event (waits)."""
        return await self._queue.get()

    def get_nowait(self) -> EventRecord | None:
        """The next queued event, or None."""
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            return None

    def drain(self) -> list[EventRecord]:
        """Every queued event at once (a stream writes them as one chunk)."""
        items: list[EventRecord] = []
        while (event := self.get_nowait()) is not None:
            items.append(event)
        self._wake.clear()
        return items

    async def wait(self, timeout: float) -> None:
        """Until an event is queued, the subscription is closed or dropped, or `timeout`."""
        if not self._queue.empty() or self.closed:
            return
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), timeout)
        except TimeoutError:
            return

    def close(self) -> None:
        """Stop receiving events (and wake a reader waiting in `wait`)."""
        self.closed = True
        self._bus.unsubscribe(self)
        self._wake.set()

    async def __aiter__(self) -> AsyncIterator[EventRecord]:
        while True:
            yield await self._queue.get()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventBus:
    """Broadcasts committed events to every current subscriber, on the event loop's thread.

    SSE streams do not subscribe here one by one: they join `fanout`, which receives each
    batch once and writes each stream once per window (`basir.events.fanout`).
    """

    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()
        self.fanout = FanoutHub()

    def subscribe(
        self, accept: Callable[[EventRecord], bool] | None = None, *, droppable: bool = False
    ) -> Subscription:
        """A new subscription receiving every later event that `accept` (if given) admits.

        `droppable` (SSE clients): a smaller queue, and overflowing it ends the subscription
        (`dropped`) instead of keeping a lagging one alive.
        """
        size = STREAM_QUEUE_SIZE if droppable else SUBSCRIBER_QUEUE_SIZE
        subscription = Subscription(self, accept, size, droppable)
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget a subscription (idempotent)."""
        self._subscribers.discard(subscription)

    def publish(self, events: Iterable[EventRecord]) -> None:
        """Hand committed events to every subscriber and the SSE fan-out; never blocks."""
        batch = events if isinstance(events, list) else list(events)
        self.fanout.publish(batch)
        if not self._subscribers:
            return
        for event in batch:
            for subscription in tuple(self._subscribers):
                subscription.offer(event)

    @property
    def subscriber_count(self) -> int:
        """How many subscriptions are open (for metrics)."""
        return len(self._subscribers)
