"""SSE at scale: one encoding per event, slow subscribers dropped, quiet disconnects."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from basir.api.http_limits import uvicorn_limits
from basir.events import bus as bus_module
from basir.events import fanout as fanout_module
from basir.events.bus import EventBus
from basir.events.frames import shared
from basir.store.memory import MemoryStore
from basir.store.records import Batch, EventRecord


def _event(n: int) -> EventRecord:
    return EventRecord("test.tick", "t", time.time(), data={"n": n}, id=n)


async def test_a_full_droppable_subscription_is_dropped_and_freed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bus_module, "STREAM_QUEUE_SIZE", 3)
    bus = EventBus()
    slow = bus.subscribe(droppable=True)
    keeper = bus.subscribe()  # an in-process subscriber: marked lagged, never dropped
    waiting = asyncio.ensure_future(slow.wait(30))
    bus.publish([_event(1)])
    await asyncio.wait_for(waiting, 1)
    assert [e.id for e in slow.drain()] == [1]
    bus.publish([_event(n) for n in range(2, 7)])  # 5 more into a queue of 3
    assert slow.dropped and slow.closed
    assert slow.drain() == []  # what it held is freed
    assert bus.subscriber_count == 1
    await asyncio.wait_for(slow.wait(30), 1)  # a dropped reader is never left waiting
    bus.publish([_event(7)])
    assert not keeper.lagged and keeper.get_nowait() is not None
    assert slow.drain() == []


async def test_each_event_is_encoded_once_for_all_subscribers() -> None:
    calls: list[int] = []

    @shared
    def encode(event: EventRecord) -> bytes:
        calls.append(event.id)
        return str(event.id).encode()

    first = _event(1)
    assert [encode(first) for _ in range(500)] == [b"1"] * 500
    assert calls == [1]
    assert encode(_event(1)) == b"1"  # another record with the same id: encoded afresh
    assert calls == [1, 1]


@pytest.fixture
async def served(app: FastAPI) -> Any:
    """The app behind a real uvicorn on 127.0.0.1 (its own disconnect handling)."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_config=None)
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await asyncio.wait_for(task, 10)


async def test_a_disconnect_is_quiet_and_the_gauge_drops_at_once(
    served: str,
    app: FastAPI,
    role_tokens: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    gauge = app.state.basir.metrics.sse_clients
    headers = {"Authorization": f"Bearer {role_tokens['viewer']}"}
    caplog.set_level(logging.INFO)
    bus = app.state.basir.engine.bus

    async def busy() -> None:  # events keep flowing while clients leave
        n = 10_000
        while True:
            n += 1
            bus.publish([_event(n)])
            await asyncio.sleep(0.002)

    ticker = asyncio.ensure_future(busy())
    for _ in range(3):
        async with (
            httpx.AsyncClient(base_url=served, timeout=5) as client,
            client.stream("GET", "/api/v1/events", headers=headers) as response,
        ):
            assert response.headers["content-type"].startswith("text/event-stream")
            async for chunk in response.aiter_bytes():
                if b": live" in chunk:
                    break
            assert gauge._value.get() == 1
    ticker.cancel()
    # No event is published any more: the server notices the disconnect by itself.
    for _ in range(100):
        if gauge._value.get() == 0:
            break
        await asyncio.sleep(0.02)
    assert gauge._value.get() == 0
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert errors == []


@pytest.fixture
async def served_bounded(app: FastAPI) -> Any:
    """The app behind uvicorn with Basir's own HTTP protocol (streams write to the socket)."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, lifespan="off", log_config=None, **uvicorn_limits()
    )
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await asyncio.wait_for(task, 10)


async def _ids_until(lines: AsyncIterator[str], last: int) -> list[tuple[int, str]]:
    """(id, run) of every event frame up to the one with id `last`."""
    seen: list[tuple[int, str]] = []
    async for line in lines:
        if line.startswith("data: {"):
            event = json.loads(line[6:])
            seen.append((int(event["id"]), event["subject"]))
            if seen[-1][0] >= last:
                return seen
    return seen


async def test_direct_streams_get_every_event_once_in_order_even_when_dropped(
    served_bounded: str,
    app: FastAPI,
    store: MemoryStore,
    role_tokens: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    bus = app.state.basir.engine.bus
    headers = {"Authorization": f"Bearer {role_tokens['viewer']}"}
    paths = ["/api/v1/events", "/api/v1/events", "/api/v1/events?run=r2"]
    async with AsyncExitStack() as stack:
        client = await stack.enter_async_context(
            httpx.AsyncClient(base_url=served_bounded, timeout=10)
        )
        responses = []
        for path in paths:
            response = await stack.enter_async_context(client.stream("GET", path, headers=headers))
            lines = response.aiter_lines()
            while await anext(lines) != ": live":
                pass
            responses.append(lines)
        for _ in range(100):
            if all(s.direct for s in bus.fanout.streams()):
                break
            await asyncio.sleep(0.01)
        assert [s.direct for s in bus.fanout.streams()] == [True] * 3
        written: list[EventRecord] = []

        async def commit(count: int) -> None:
            for start in range(0, count, 5):
                batch = [
                    EventRecord("test.tick", f"r{n % 3}", time.time(), run_id=f"r{n % 3}")
                    for n in range(start, start + 5)
                ]
                events = await store.write(Batch(events=batch))
                written.extend(events)
                bus.publish(events)
                await asyncio.sleep(0.005)

        await commit(30)
        # Now every write leaves "too much" unsent: each stream is dropped after each
        # write and catches up from the store, without a duplicate.
        monkeypatch.setattr(fanout_module, "MAX_UNSENT_BYTES", -1)
        first = bus.fanout.streams()
        await commit(30)
        assert all(stream.dropped for stream in first)
        last_all = written[-1].id
        last_r2 = max(e.id for e in written if e.run_id == "r2")
        got = [
            await _ids_until(r, last)
            for r, last in zip(responses, [last_all, last_all, last_r2], strict=True)
        ]
    everything = [(e.id, e.run_id) for e in written]
    assert got[0] == everything and got[1] == everything
    assert got[2] == [pair for pair in everything if pair[1] == "r2"]
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_streams_of_one_filter_share_one_bytes_object_per_window() -> None:
    bus = EventBus()
    hub = bus.fanout
    written: list[bytes] = []

    def writer(chunk: fanout_module.Chunk) -> int:
        written.append(chunk.data)
        return 0

    topic = fanout_module.Topic("all", lambda e: f"{e.id};".encode())
    of_r1 = fanout_module.Topic("r1", lambda e: f"{e.id};".encode(), run="r1")
    streams = [hub.join(topic, writer) for _ in range(3)] + [hub.join(of_r1)]
    for stream in streams[:3]:
        stream.direct = True
    bus.publish([EventRecord("t", "s", 1.0, run_id=f"r{n % 2}", id=n) for n in range(1, 6)])
    hub.flush()
    assert written == [b"1;2;3;4;5;"] * 3
    assert len({id(data) for data in written}) == 1  # the same object for all three
    assert await streams[3].next(1) == b"1;3;5;"
    streams[0].close()
    assert hub.stream_count == 3
