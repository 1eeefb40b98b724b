"""The listing cache: invalidated by events, single-flight, stale-while-revalidate."""

from __future__ import annotations

import asyncio

import pytest

from basir.api.cache import ListCache
from basir.events.bus import EventBus
from basir.store.records import EventRecord

EVENT = EventRecord(type="run.started", subject="runs/x", time=0.0, id=1)


class Loader:
    """Counts loads; each returns the next number, optionally after a gate opens."""

    def __init__(self) -> None:
        self.calls = 0
        self.gate: asyncio.Event | None = None

    async def __call__(self) -> bytes:
        self.calls += 1
        value = str(self.calls).encode()
        if self.gate is not None:
            await self.gate.wait()
        return value


async def test_hits_until_an_event() -> None:
    bus = EventBus()
    cache = ListCache(bus, ttl_s=60)
    load = Loader()
    assert await cache.get("k", load) == b"1"
    assert await cache.get("k", load) == b"1"
    bus.publish([EVENT])
    assert await cache.get("k", load) == b"2"
    assert bus.subscriber_count == 1
    cache.close()
    assert bus.subscriber_count == 0


async def test_concurrent_misses_share_one_load() -> None:
    cache = ListCache(EventBus(), ttl_s=60)
    load = Loader()
    load.gate = asyncio.Event()
    waiting = [asyncio.create_task(cache.get("k", load)) for _ in range(20)]
    await asyncio.sleep(0)
    load.gate.set()
    assert set(await asyncio.gather(*waiting)) == {b"1"}
    assert load.calls == 1


async def test_a_read_that_spans_an_event_is_not_kept() -> None:
    bus = EventBus()
    cache = ListCache(bus, ttl_s=60)
    load = Loader()
    load.gate = asyncio.Event()
    first = asyncio.create_task(cache.get("k", load))
    await asyncio.sleep(0)
    bus.publish([EVENT])
    # A request after the event does not join the older read.
    second = asyncio.create_task(cache.get("k", load))
    await asyncio.sleep(0)
    load.gate.set()
    assert await first == b"1"
    assert await second == b"2"
    load.gate = None
    assert await cache.get("k", load) == b"2"  # only the post-event read was kept


async def test_stale_entry_is_served_while_one_refresh_runs() -> None:
    cache = ListCache(EventBus(), ttl_s=0.01)
    load = Loader()
    assert await cache.get("k", load) == b"1"
    await asyncio.sleep(0.02)
    load.gate = asyncio.Event()
    assert await cache.get("k", load) == b"1"  # stale, refresh started
    assert await cache.get("k", load) == b"1"  # still stale, no second refresh
    await asyncio.sleep(0)
    assert load.calls == 2
    load.gate.set()
    await asyncio.sleep(0.01)
    assert await cache.get("k", load) == b"2"


async def test_errors_reach_every_waiter_and_are_not_cached() -> None:
    cache = ListCache(EventBus(), ttl_s=60)
    calls = 0

    async def failing() -> bytes:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        raise ValueError("bad cursor")

    results = await asyncio.gather(
        cache.get("k", failing), cache.get("k", failing), return_exceptions=True
    )
    assert all(isinstance(r, ValueError) for r in results)
    assert calls == 1
    with pytest.raises(ValueError):
        await cache.get("k", failing)
    assert calls == 2


async def test_failed_background_refresh_keeps_the_stale_page() -> None:
    cache = ListCache(EventBus(), ttl_s=0.01)
    assert await cache.get("k", Loader()) == b"1"
    await asyncio.sleep(0.02)

    async def failing() -> bytes:
        raise OSError("store down")

    assert await cache.get("k", failing) == b"1"
    await asyncio.sleep(0.01)
    assert await cache.get("k", failing) == b"1"


async def test_disabled_cache_always_loads() -> None:
    cache = ListCache(EventBus(), ttl_s=0)
    load = Loader()
    await cache.get("k", load)
    await cache.get("k", load)
    assert load.calls == 2


async def test_bounded_size() -> None:
    cache = ListCache(EventBus(), ttl_s=60, max_entries=2)
    load = Loader()
    for key in ("a", "b", "c"):
        await cache.get(key, load)
    assert await cache.get("a", load) == b"4"  # evicted, loaded again


async def test_peek_never_loads_and_serves_stale_only_while_refreshing() -> None:
    bus = EventBus()
    cache = ListCache(bus, ttl_s=0.01)
    load = Loader()
    assert cache.peek("k") is None and load.calls == 0
    assert await cache.get("k", load) == b"1"
    assert cache.peek("k") == b"1"
    await asyncio.sleep(0.02)
    assert cache.peek("k") is None  # stale, nobody refreshing it
    load.gate = asyncio.Event()
    assert await cache.get("k", load) == b"1"  # starts the refresh
    assert cache.peek("k") == b"1"  # stale while it runs
    bus.publish([EVENT])
    assert cache.peek("k") is None
    load.gate.set()
    cache.close()


def test_known_queries_are_bounded() -> None:
    from basir.api.cache import KnownQueries

    known = KnownQueries(max_entries=2)
    known.learn(b"limit=1", ("a",))
    known.learn(b"limit=2", ("b",))
    assert known.key_of(b"limit=1") == ("a",)
    known.learn(b"limit=3", ("c",))
    assert known.key_of(b"limit=1") is None and known.key_of(b"limit=3") == ("c",)
    assert known.key_of(b"other") is None


async def test_a_cache_of_runs_ignores_task_events() -> None:
    from basir.api.cache import changes_runs

    bus = EventBus()
    cache = ListCache(bus, ttl_s=60, changes=changes_runs)
    load = Loader()
    assert await cache.get("k", load) == b"1"
    bus.publish([EventRecord(type="task.started", subject="runs/x/tasks/a", time=0.0, id=2)])
    assert await cache.get("k", load) == b"1"
    bus.publish([EventRecord(type="run.succeeded", subject="runs/x", time=0.0, id=3)])
    assert await cache.get("k", load) == b"2"
    bus.publish([EventRecord(type="alert.firing", subject="alerts/y", time=0.0, id=4)])
    assert await cache.get("k", load) == b"3"
    cache.close()


async def test_ready_joins_a_load_under_way_and_never_starts_one() -> None:
    cache = ListCache(EventBus(), ttl_s=60)
    load = Loader()
    assert await cache.ready("k") is None and load.calls == 0
    load.gate = asyncio.Event()
    first = asyncio.create_task(cache.get("k", load))
    await asyncio.sleep(0)
    joined = asyncio.create_task(cache.ready("k"))
    await asyncio.sleep(0)
    load.gate.set()
    assert await first == b"1" and await joined == b"1"
    assert await cache.ready("k") == b"1" and load.calls == 1
    cache.close()
