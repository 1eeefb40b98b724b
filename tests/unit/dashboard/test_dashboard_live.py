"""`/live`: frames for committed changes, one `sync` when the page is stale, quiet shutdown."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI

from basir.dashboard.context import DashboardContext
from basir.dashboard.live import missed, stream, topic_for
from basir.engine.runtime import Engine
from basir.events import fanout as fanout_module
from basir.store.records import EventRecord


async def _collect(frames: list[bytes], iterator: object, count: int) -> None:
    async for chunk in iterator:  # type: ignore[attr-defined]
        frames.append(chunk)
        if len(frames) >= count:
            return


async def test_the_stream_sends_changes_and_ends_on_shutdown(engine: Engine, app: FastAPI) -> None:
    ctx: DashboardContext = app.state.dashboard
    hub = engine.bus.fanout
    before = hub.stream_count
    subscription = hub.join(topic_for("r1"))

    async def fresh() -> bool:
        return False

    frames: list[bytes] = []
    source = stream(ctx, subscription, False, fresh)
    reader = asyncio.ensure_future(_collect(frames, source, 2))
    await asyncio.sleep(0)
    engine.bus.publish(
        [
            EventRecord("task.running", "s", 1.0, run_id="other", task_id="t", id=1),
            EventRecord("task.running", "s", 1.0, run_id="r1", task_id="t", id=2),
        ]
    )
    await asyncio.wait_for(reader, 5)
    assert frames[0].startswith(b"retry: ")
    assert frames[1].startswith(b"id: 2\nevent: task\n")
    ctx.shutdown.set()
    rest = [chunk async for chunk in source]
    assert rest == [] or all(chunk.startswith(b":") for chunk in rest)
    assert hub.stream_count == before


async def test_a_stale_page_or_a_reconnect_gets_one_sync(engine: Engine, app: FastAPI) -> None:
    ctx: DashboardContext = app.state.dashboard
    hub = engine.bus.fanout
    before = hub.stream_count
    assert not await missed(ctx, None, None)
    last = await ctx.store.last_event_id()
    assert not await missed(ctx, "r1", last)

    async def stale() -> bool:
        return True

    for reconnect, check in ((True, None), (False, stale)):

        async def never() -> bool:
            return False

        source = stream(ctx, hub.join(topic_for(None)), reconnect, check or never)
        assert (await anext(source)).startswith(b"retry: ")
        assert b"event: sync" in await anext(source)
        await source.aclose()
    assert hub.stream_count == before


async def test_a_page_too_slow_is_dropped_then_syncs_on_reconnect(
    engine: Engine, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fanout_module, "MAX_UNSENT_BYTES", 100)  # about two changes
    ctx: DashboardContext = app.state.dashboard
    hub = engine.bus.fanout
    before = hub.stream_count

    async def fresh() -> bool:
        return False

    subscription = hub.join(topic_for(None))
    source = stream(ctx, subscription, False, fresh)
    assert (await anext(source)).startswith(b"retry: ")
    # The page does not read while five changes arrive: more than it may hold unsent.
    engine.bus.publish(
        [EventRecord("run.running", "s", 1.0, run_id=f"r{n}", id=n) for n in range(1, 6)]
    )
    hub.flush()
    assert subscription.dropped and hub.stream_count == before
    rest = [chunk async for chunk in source]  # the stream ends: the browser reconnects
    assert not any(b"event: run" in chunk for chunk in rest)
    again = stream(ctx, hub.join(topic_for(None)), True, fresh)
    assert (await anext(again)).startswith(b"retry: ")
    assert b"event: sync" in await anext(again)
    await again.aclose()
    assert hub.stream_count == before
