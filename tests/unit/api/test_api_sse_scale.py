"""SSE at scale: one encoding per event, slow subscribers dropped, quiet disconnects."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from basir.events import bus as bus_module
from basir.events.bus import EventBus
from basir.events.frames import shared
from basir.store.records import EventRecord


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
