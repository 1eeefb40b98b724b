"""Task controls (hold / release) and task logs (all, tail, follow)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import FOLLOW_YAML, SHELL_YAML, SLOW_YAML, AsgiStream, assert_problem
from fastapi import FastAPI

from basir.api import logs
from basir.engine.runtime import Engine

Start = Callable[..., Awaitable[dict[str, Any]]]
AUTH = "Authorization"


async def test_hold_and_release_a_pending_task(
    client: httpx.AsyncClient, start: Start, engine: Engine
) -> None:
    run = await start(SLOW_YAML)
    base = f"/api/v1/runs/{run['run_id']}/tasks/second"
    held = await client.post(f"{base}/pause", json={})
    assert held.status_code == 200, held.text
    assert held.json()["held"] is True
    assert held.json()["task_id"] == "second"
    shown = (await client.get(f"/api/v1/runs/{run['run_id']}")).json()
    assert shown["tasks"]["second"]["held"] is True
    released = (await client.post(f"{base}/resume")).json()
    assert released["held"] is False
    await client.post(f"/api/v1/runs/{run['run_id']}/cancel")


async def test_hold_with_automatic_resume_time(client: httpx.AsyncClient, start: Start) -> None:
    run = await start(SLOW_YAML)
    later = datetime.fromtimestamp(time.time() + 3600, UTC).isoformat()
    response = await client.post(
        f"/api/v1/runs/{run['run_id']}/tasks/second/pause",
        json={"resume_at": later, "stop_running": False},
    )
    assert response.status_code == 200, response.text
    assert response.json()["hold_until"].endswith("Z")
    naive = await client.post(
        f"/api/v1/runs/{run['run_id']}/tasks/second/pause",
        json={"resume_at": "2099-01-01T00:00:00"},
    )
    assert naive.json()["hold_until"] == "2099-01-01T00:00:00Z"
    await client.post(f"/api/v1/runs/{run['run_id']}/cancel")


async def test_pause_body_is_optional_and_validated(
    client: httpx.AsyncClient, start: Start
) -> None:
    run = await start(SLOW_YAML)
    base = f"/api/v1/runs/{run['run_id']}/tasks/second"
    assert (await client.post(f"{base}/pause")).status_code == 200
    problem = assert_problem(
        await client.post(f"{base}/pause", json={"resume_at": "tomorrow"}), 422, "request.invalid"
    )
    assert problem["errors"][0]["field"] == "body.resume_at"
    await client.post(f"/api/v1/runs/{run['run_id']}/cancel")


async def test_task_control_errors(client: httpx.AsyncClient, start: Start, engine: Engine) -> None:
    assert_problem(await client.post("/api/v1/runs/ghost/tasks/a/pause"), 404, "run.not_found")
    run = await start(SLOW_YAML)
    assert_problem(
        await client.post(f"/api/v1/runs/{run['run_id']}/tasks/ghost/pause"),
        404,
        "task.not_found",
    )
    assert_problem(
        await client.post(f"/api/v1/runs/{run['run_id']}/tasks/bad%20id/pause"),
        422,
        "request.invalid",
    )
    await client.post(f"/api/v1/runs/{run['run_id']}/cancel")
    await engine.wait(run["run_id"])
    assert_problem(
        await client.post(f"/api/v1/runs/{run['run_id']}/tasks/second/pause"),
        409,
        "run.not_active",
    )


async def test_logs_whole_and_tail(client: httpx.AsyncClient, start: Start, engine: Engine) -> None:
    run = await start(SHELL_YAML)
    await engine.wait(run["run_id"])
    url = f"/api/v1/runs/{run['run_id']}/tasks/talk/logs"
    whole = await client.get(url)
    assert whole.status_code == 200
    assert whole.headers["content-type"].startswith("text/plain")
    assert "one\ntwo\nthree\n" in whole.text
    assert (await client.get(url, params={"tail": 2})).text.endswith("two\nthree\n")
    assert (await client.get(url, params={"tail": 1})).text == "three\n"
    assert (await client.get(url, params={"tail": 0})).text == ""
    # follow on a finished task ends at once
    assert "three" in (await client.get(url, params={"follow": "true"})).text


async def test_logs_errors(client: httpx.AsyncClient, start: Start, engine: Engine) -> None:
    assert_problem(await client.get("/api/v1/runs/ghost/tasks/a/logs"), 404, "run.not_found")
    run = await start(SHELL_YAML)
    await engine.wait(run["run_id"])
    assert_problem(
        await client.get(f"/api/v1/runs/{run['run_id']}/tasks/nope/logs"), 404, "task.not_found"
    )
    assert_problem(
        await client.get(f"/api/v1/runs/{run['run_id']}/tasks/talk/logs?tail=-1"),
        422,
        "request.invalid",
    )


async def test_logs_of_a_task_without_output_are_empty(
    client: httpx.AsyncClient, start: Start
) -> None:
    run = await start(SLOW_YAML)
    response = await client.get(f"/api/v1/runs/{run['run_id']}/tasks/second/logs")
    assert response.status_code == 200
    assert response.text == ""
    await client.post(f"/api/v1/runs/{run['run_id']}/cancel")


async def test_follow_streams_new_lines_until_the_task_ends(
    app: FastAPI, start: Start, role_tokens: dict[str, str], engine: Engine
) -> None:
    run = await start(FOLLOW_YAML)
    url = f"/api/v1/runs/{run['run_id']}/tasks/talk/logs?follow=true"
    async with AsgiStream(app, url, {AUTH: f"Bearer {role_tokens['viewer']}"}) as stream:
        assert stream.status == 200
        text = await stream.read_all(timeout=15)
    assert "start\n" in text and "end\n" in text
    assert (await engine.wait(run["run_id"])).status == "succeeded"


async def test_follow_ends_on_shutdown(
    app: FastAPI, start: Start, role_tokens: dict[str, str]
) -> None:
    run = await start(SLOW_YAML)
    url = f"/api/v1/runs/{run['run_id']}/tasks/first/logs?follow=true"
    async with AsgiStream(app, url, {AUTH: f"Bearer {role_tokens['viewer']}"}) as stream:
        app.state.basir.shutdown.set()
        await stream.read_all(timeout=5)
        assert stream.ended


def test_tail_offset_on_big_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "CHUNK_BYTES", 7)
    path = tmp_path / "x.log"
    path.write_bytes(b"".join(f"line {i}\n".encode() for i in range(100)))
    offset = logs.tail_offset(path, 3)
    assert path.read_bytes()[offset:] == b"line 97\nline 98\nline 99\n"
    assert logs.tail_offset(path, 1000) == 0
    path.write_bytes(b"no newline at end")
    assert logs.tail_offset(path, 1) == 0
    assert logs.tail_offset(tmp_path / "missing.log", 3) == 0


def test_log_path_stays_inside_the_logs_folder(tmp_path: Path) -> None:
    assert logs.log_path(tmp_path, "run", "task") == (tmp_path / "run" / "task.log").resolve()
    assert logs.log_path(tmp_path, "..", "../../etc/passwd") is None


async def test_follow_generator_reads_growth(tmp_path: Path) -> None:
    from basir.events.bus import EventBus

    path = tmp_path / "grow.log"
    path.write_bytes(b"a\n")
    done = False

    async def finished() -> bool:
        return done

    bus = EventBus()
    chunks: list[bytes] = []
    with bus.subscribe() as wake:

        async def consume() -> None:
            async for chunk in logs.follow(path, 0, finished, wake, asyncio.Event()):
                chunks.append(chunk)

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.05)
        with path.open("ab") as handle:
            handle.write(b"b\n")
        await asyncio.sleep(0.3)
        done = True
        from basir.store.records import EventRecord

        bus.publish([EventRecord(type="task.succeeded", subject="s", time=0.0, id=1)])
        await asyncio.wait_for(task, 5)
    assert b"".join(chunks) == b"a\nb\n"


async def test_stop_a_running_task_and_requeue_it(client: httpx.AsyncClient, start: Start) -> None:
    run = await start(SLOW_YAML)
    base = f"/api/v1/runs/{run['run_id']}"
    for _ in range(200):
        if (await client.get(base)).json()["tasks"]["first"]["status"] == "running":
            break
        await asyncio.sleep(0.02)
    held = await client.post(f"{base}/tasks/first/pause", json={"stop_running": True})
    assert held.status_code == 200, held.text
    assert held.json()["held"] is True
    for _ in range(200):
        task = (await client.get(base)).json()["tasks"]["first"]
        if task["status"] == "queued":
            break
        await asyncio.sleep(0.02)
    assert task["status"] == "queued" and task["held"] is True
    await client.post(f"{base}/cancel")
