"""Serialise each event once for all its SSE subscribers.

Five hundred browsers watching the same run receive the same bytes: the first stream to send
an event encodes it, the others find the bytes in a small cache keyed by the event's log id
and holding the very record the bus handed out (a record read back from the store, or of
another store in the same process, is encoded afresh).  Bounded: the cache is emptied when
it grows past its size.
"""

from __future__ import annotations

from collections.abc import Callable

from basir.store.records import EventRecord

CACHE_SIZE = 4096


def shared(encode: Callable[[EventRecord], bytes]) -> Callable[[EventRecord], bytes]:
    """`encode`, remembered per event id (uncommitted events, id 0, are encoded each time)."""
    cache: dict[int, tuple[EventRecord, bytes]] = {}

    def encoded(event: EventRecord) -> bytes:
        if not event.id:
            return encode(event)
        hit = cache.get(event.id)
        if hit is not None and hit[0] is event:
            return hit[1]
        if len(cache) >= CACHE_SIZE:
            cache.clear()
        data = encode(event)
        cache[event.id] = (event, data)
        return data

    encoded.__doc__ = encode.__doc__
    return encoded
