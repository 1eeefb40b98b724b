"""`/api/v1/events` (SSE: replay, live, no gaps or duplicates) and `/events/history`."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from api_helpers import HELLO_YAML, AsgiStream, assert_problem
from fastapi import FastAPI

from basir.engine.runtime import Engine
from basir.events import fanout as fanout_module
from basir.store.memory import MemoryStore
from basir.store.records import Batch, EventRecord

Start = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def auth(role_tokens: dict[str, str]) -> dict[str, str]:
    """Viewer credentials (reading events needs only `read`)."""
    return {"Authorization": f"Bearer {role_tokens['viewer']}"}


async def _until_live(stream: AsgiStream) -> list[dict[str, Any]]:
    """Messages up to the `live` marker (the replayed ones)."""
    replayed = []
    while True:
        message = await stream.next_message()
        assert message is not None
        if message["comment"] == "live":
            return replayed
        if message["data"] is not None:
            replayed.append(message)


async def _events_until(stream: AsgiStream, kind: str) -> list[dict[str, Any]]:
    seen = []
    while True:
        message = await stream.next_event(timeout=10)
        seen.append(message)
        if message["data"]["type"] == kind:
            return seen


async def test_live_events_of_a_run(
    app: FastAPI, auth: dict[str, str], start: Start, engine: Engine
) -> None:
    async with AsgiStream(app, "/api/v1/events", auth) as stream:
        assert stream.status == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert await _until_live(stream) == []
        run = await start(HELLO_YAML)
        seen = await _events_until(stream, "run.succeeded")
    types = [m["data"]["type"] for m in seen]
    assert types[0] == "run.queued"
    assert "task.started" in types and "task.succeeded" in types
    ids = [int(m["id"]) for m in seen]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    first = seen[0]["data"]
    assert set(first) >= {"id", "type", "source", "time", "subject", "data"}
    assert first["subject"] == f"runs/{run['run_id']}"
    assert first["id"] == seen[0]["id"]
    await engine.wait(run["run_id"])


async def test_replay_from_since_and_last_event_id(
    app: FastAPI, auth: dict[str, str], start: Start, engine: Engine
) -> None:
    run = await start(HELLO_YAML)
    await engine.wait(run["run_id"])
    path = f"/api/v1/events?run={run['run_id']}&since=0"
    async with AsgiStream(app, path, auth) as stream:
        everything = await _until_live(stream)
    assert everything[-1]["data"]["type"] == "run.succeeded"
    third = everything[2]["id"]
    headers = {**auth, "Last-Event-ID": third}
    async with AsgiStream(app, f"/api/v1/events?run={run['run_id']}", headers) as stream:
        rest = await _until_live(stream)
    assert [m["id"] for m in rest] == [m["id"] for m in everything[3:]]


async def test_replay_then_live_without_gaps_or_duplicates(
    app: FastAPI, auth: dict[str, str], store: MemoryStore, engine: Engine
) -> None:
    def event(n: int) -> EventRecord:
        return EventRecord(type="test.tick", subject=f"tick/{n}", time=time.time(), data={"n": n})

    committed = await store.write(Batch(events=[event(1), event(2), event(3)]))
    async with AsgiStream(app, "/api/v1/events?since=0&type=test.tick", auth) as stream:
        replayed = await _until_live(stream)
        assert [m["data"]["data"]["n"] for m in replayed] == [1, 2, 3]
        later = await store.write(Batch(events=[event(4)]))
        # The bus repeats an event the replay already sent, then the new one.
        engine.bus.publish([committed[1], *later])
        live = await stream.next_event()
    assert live["data"]["data"] == {"n": 4}


async def test_a_lagging_subscriber_catches_up_from_the_store(
    app: FastAPI,
    auth: dict[str, str],
    store: MemoryStore,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fanout_module, "MAX_UNSENT_BYTES", 200)  # about one event
    events = [
        EventRecord(type="test.tick", subject="t", time=time.time(), data={"n": n})
        for n in range(6)
    ]
    async with AsgiStream(app, "/api/v1/events?type=test.tick", auth) as stream:
        await _until_live(stream)
        written = await store.write(Batch(events=events))
        hub = engine.bus.fanout
        before = hub.stream_count
        engine.bus.publish(written)
        hub.flush()  # six events are more than it may hold unsent: the stream is dropped
        assert hub.stream_count == before - 1
        received = [(await stream.next_event())["data"]["data"]["n"] for _ in range(6)]
        assert hub.stream_count == before  # joined again, caught up
    assert received == list(range(6))


async def test_filters(app: FastAPI, auth: dict[str, str], start: Start, engine: Engine) -> None:
    run = await start(HELLO_YAML)
    await engine.wait(run["run_id"])
    path = "/api/v1/events?since=0&type=task.succeeded,run.succeeded&workflow=hello"
    async with AsgiStream(app, path, auth) as stream:
        replayed = await _until_live(stream)
    assert [m["data"]["type"] for m in replayed] == [
        "task.succeeded",
        "task.succeeded",
        "run.succeeded",
    ]
    async with AsgiStream(app, "/api/v1/events?since=0&workflow=other", auth) as stream:
        assert await _until_live(stream) == []


async def test_stream_ends_on_shutdown(app: FastAPI, auth: dict[str, str]) -> None:
    async with AsgiStream(app, "/api/v1/events", auth) as stream:
        await _until_live(stream)
        app.state.basir.shutdown.set()
        assert await stream.next_message() is None


async def test_bad_event_ids(client: httpx.AsyncClient) -> None:
    problem = assert_problem(
        await client.get("/api/v1/events", headers={"Last-Event-ID": "abc"}),
        400,
        "request.invalid_cursor",
    )
    assert problem["errors"][0]["field"] == "header.last-event-id"
    assert_problem(await client.get("/api/v1/events?since=-1"), 400, "request.invalid_cursor")
    assert_problem(await client.get("/api/v1/events?type=Bad Type"), 422, "request.invalid")


async def test_events_need_a_token(make_client: Any) -> None:
    assert_problem(await make_client(None).get("/api/v1/events"), 401, "auth.unauthorized")


async def test_history_pages_oldest_first(
    client: httpx.AsyncClient, start: Start, engine: Engine
) -> None:
    run = await start(HELLO_YAML)
    await engine.wait(run["run_id"])
    everything = (await client.get(f"/api/v1/events/history?run={run['run_id']}")).json()
    assert everything["next"] is None
    ids = [int(e["id"]) for e in everything["items"]]
    assert ids == sorted(ids)
    collected: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"run": run["run_id"], "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/events/history", params=params)).json()
        collected += [e["id"] for e in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert collected == [e["id"] for e in everything["items"]]
    typed = (await client.get("/api/v1/events/history?type=run.succeeded")).json()["items"]
    assert [e["type"] for e in typed] == ["run.succeeded"]
    assert_problem(
        await client.get("/api/v1/events/history?cursor=x"), 400, "request.invalid_cursor"
    )


async def test_sse_clients_gauge(app: FastAPI, auth: dict[str, str]) -> None:
    gauge = app.state.basir.metrics.sse_clients
    async with AsgiStream(app, "/api/v1/events", auth) as stream:
        await _until_live(stream)
        assert gauge._value.get() == 1
    assert gauge._value.get() == 0
