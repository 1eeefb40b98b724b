"""Fan-out of committed events to many SSE streams: one write per stream per short window.

The bus hands each committed batch to the hub *once* (not once per stream and event).  The
hub gathers the events of a window (leading edge: a quiet system writes at once; under load at
most one flush per `window()`, which grows with the number of streams up to 20 ms) and, for
each *topic* (a filter and an encoding that streams share), selects and encodes the window's
events once and joins them into one bytes object.  Every stream of the topic gets that same
object: written straight to its socket when the server exposes it (`basir.events.sse.
DirectWriter`, one `transport.write` with the chunk framing computed once per topic), or
queued for the stream's coroutine to send through ASGI otherwise.  No per-stream per-event
Python work, except for the first window after a replay (events the replay already sent are
cut out by id).

A stream whose unsent bytes (queued, or waiting in its socket buffer) pass
`MAX_UNSENT_BYTES` is *dropped*: it leaves its topic and its coroutine catches up from the
store (or ends, and the browser reconnects with `Last-Event-ID`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from basir.store.records import EventRecord

MAX_UNSENT_BYTES = 1 << 20
WINDOW_PER_STREAM_S = 0.00004
MAX_WINDOW_S = 0.02

Encode = Callable[[EventRecord], bytes]
Accept = Callable[[EventRecord], bool]


def window_for(streams: int) -> float:
    """The shortest time between two flushes for `streams` open streams (seconds)."""
    return min(MAX_WINDOW_S, streams * WINDOW_PER_STREAM_S)


@dataclass(frozen=True, eq=False)
class Topic:
    """What a group of streams receives: events of `run` (any run if None) that `accept`
    admits, each as `encode` bytes.  Streams with equal `key`s share the topic's bytes."""

    key: Hashable
    encode: Encode
    run: str | None = None
    accept: Accept | None = None


class Chunk:
    """A run of consecutive frames for one topic, encoded and joined once."""

    __slots__ = ("_framed", "data", "events", "first", "last")

    def __init__(self, events: list[EventRecord], encode: Encode) -> None:
        self.events = events
        self.data = b"".join([encode(event) for event in events])
        self.first = events[0].id
        self.last = events[-1].id
        self._framed: bytes | None = None

    def framed(self) -> bytes:
        """`data` as one HTTP/1.1 chunk (computed once for all chunked streams)."""
        if self._framed is None:
            self._framed = b"%x\r\n%b\r\n" % (len(self.data), self.data)
        return self._framed


class Writer(Protocol):
    """Writes a chunk straight to a stream's socket."""

    def __call__(self, chunk: Chunk) -> int:
        """The bytes left in the socket's buffer after the write; -1 if the peer has gone."""


@dataclass(eq=False)
class Stream:
    """One client's place in the fan-out: its last id, its unsent bytes, how it is written.

    `last` is the id of the last event handed to the client (written, queued or replayed);
    `sent` the last one actually given to the socket (a drop rewinds `last` to it).
    """

    hub: FanoutHub
    topic: Topic
    last: int
    sent: int
    writer: Writer | None = None
    direct: bool = False
    dropped: bool = False
    closed: bool = False
    pending: list[Chunk] = field(default_factory=list)
    pending_bytes: int = 0
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def deliver(self, chunk: Chunk) -> None:
        """Hand the window's chunk of this stream's topic to the client (never blocks)."""
        if chunk.last <= self.last:
            return
        if chunk.first <= self.last:  # the replay sent some of these already
            chunk = Chunk([e for e in chunk.events if e.id > self.last], self.topic.encode)
        self.last = chunk.last
        if self.direct and self.writer is not None:
            left = self.writer(chunk)
            if left < 0:
                self.close()
                return
            self.sent = chunk.last  # in the socket's buffer: it goes out
            if left > MAX_UNSENT_BYTES:
                self.drop()
            return
        self.pending.append(chunk)
        self.pending_bytes += len(chunk.data)
        if self.pending_bytes > MAX_UNSENT_BYTES:
            self.drop()
        else:
            self.wake.set()

    def skip_to(self, last: int) -> None:
        """The client has everything up to `last` (a replay): queued or later duplicates are
        cut out."""
        kept = []
        for chunk in self.pending:
            if chunk.first > last:
                kept.append(chunk)
            elif chunk.last > last:
                kept.append(Chunk([e for e in chunk.events if e.id > last], self.topic.encode))
        self.pending = kept
        self.pending_bytes = sum(len(chunk.data) for chunk in kept)
        self.sent = max(self.sent, last)
        self.last = max(self.last, last)

    def take(self) -> bytes:
        """The queued bytes as one chunk (empty if none); they count as sent."""
        data = b"".join([chunk.data for chunk in self.pending])
        self.pending.clear()
        self.pending_bytes = 0
        self.sent = self.last
        return data

    async def next(self, timeout: float) -> bytes | None:
        """The next bytes to send through ASGI; b"" after `timeout` (a keep-alive is due);
        None once the stream is closed or dropped.

        Called between two sends (nothing in flight): when the queue is empty and a writer
        is there, the stream switches to writing straight to the socket from now on.
        """
        if self.pending:
            return self.take()
        if self.closed or self.dropped:
            return None
        if self.writer is not None:
            self.direct = True
        self.wake.clear()
        try:
            await asyncio.wait_for(self.wake.wait(), timeout)
        except TimeoutError:
            return b""
        if self.pending:
            return self.take()
        return None if self.closed or self.dropped else b""

    def drop(self) -> None:
        """Too far behind: leave the topic, forget the queue, rewind to what was sent."""
        self.dropped = True
        self.direct = False
        self.pending.clear()
        self.pending_bytes = 0
        self.last = self.sent
        self.hub.leave(self)
        self.wake.set()

    def close(self) -> None:
        """Leave the fan-out (idempotent); a waiting coroutine wakes."""
        self.closed = True
        self.direct = False
        self.hub.leave(self)
        self.wake.set()


class FanoutHub:
    """The streams by topic, and the events of the current window."""

    def __init__(self) -> None:
        self._topics: dict[Hashable, tuple[Topic, set[Stream]]] = {}
        self._streams = 0
        self._events: list[EventRecord] = []
        self._timer: asyncio.Handle | None = None
        self._last_flush = 0.0
        self.last_id = 0
        self.flushes = 0

    @property
    def stream_count(self) -> int:
        """How many streams are joined."""
        return self._streams

    def streams(self) -> list[Stream]:
        """Every joined stream (for tests and diagnostics)."""
        return [stream for _topic, streams in self._topics.values() for stream in streams]

    def join(self, topic: Topic, writer: Writer | None = None, last: int | None = None) -> Stream:
        """A new stream of `topic`, owed every event after `last` (None: from now on)."""
        start = self.last_id if last is None else last
        stream = Stream(self, topic, start, start, writer)
        entry = self._topics.get(topic.key)
        if entry is None:
            entry = self._topics[topic.key] = (topic, set())
        entry[1].add(stream)
        self._streams += 1
        return stream

    def leave(self, stream: Stream) -> None:
        """Forget a stream (idempotent)."""
        entry = self._topics.get(stream.topic.key)
        if entry is None or stream not in entry[1]:
            return
        entry[1].discard(stream)
        self._streams -= 1
        if not entry[1]:
            del self._topics[stream.topic.key]

    def publish(self, events: Iterable[EventRecord]) -> None:
        """Committed events, in id order: written out at the end of the current window."""
        batch = list(events)
        if not batch:
            return
        self.last_id = max(self.last_id, batch[-1].id)
        if not self._topics:
            return
        self._events.extend(batch)
        if self._timer is None:
            loop = asyncio.get_running_loop()
            delay = self._last_flush + window_for(self._streams) - loop.time()
            if delay > 0:
                self._timer = loop.call_later(delay, self.flush)
            else:
                self._timer = loop.call_soon(self.flush)

    def flush(self) -> None:
        """Hand each topic's share of the window's events to its streams."""
        self._timer = None
        self.flushes += 1
        self._last_flush = asyncio.get_running_loop().time()
        events, self._events = self._events, []
        by_run: dict[str | None, list[EventRecord]] | None = None
        for topic, streams in list(self._topics.values()):
            chosen = events
            if topic.run is not None:
                if by_run is None:
                    by_run = {}
                    for event in events:
                        by_run.setdefault(event.run_id, []).append(event)
                chosen = by_run.get(topic.run, [])
            if topic.accept is not None:
                accept = topic.accept
                chosen = [event for event in chosen if accept(event)]
            if not chosen:
                continue
            chunk = Chunk(chosen, topic.encode)
            for stream in tuple(streams):
                stream.deliver(chunk)
