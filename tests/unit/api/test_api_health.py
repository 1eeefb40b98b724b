"""Root probes and Prometheus metrics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from api_helpers import HELLO_YAML, SLOW_YAML, assert_problem

from basir.engine.runtime import Engine
from basir.monitoring.metrics import Metrics, StateSnapshot
from basir.store.memory import MemoryStore

Start = Callable[..., Awaitable[dict[str, Any]]]


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = (await client.get("/readyz")).json()
    assert ready == {"status": "ready", "store": "ok", "engine": "running"}


async def test_readyz_when_the_store_is_down(
    client: httpx.AsyncClient, store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def down() -> bool:
        raise OSError("gone")

    monkeypatch.setattr(store, "ping", down)
    assert_problem(await client.get("/readyz"), 503, "store.unreachable")


async def test_readyz_while_store_writes_are_retried(
    client: httpx.AsyncClient, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine.journal, "store_retrying", "OperationalError: database is locked")
    response = await client.get("/readyz")
    assert_problem(response, 503, "store.retrying")
    assert "database is locked" in response.json()["detail"]


async def test_readyz_once_the_engine_has_stopped(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    await engine.stop(grace_s=0)
    assert_problem(await client.get("/readyz"), 503, "engine.stopped")


async def test_metrics_exposition(client: httpx.AsyncClient, start: Start, engine: Engine) -> None:
    run = await start(HELLO_YAML)
    await engine.wait(run["run_id"])
    slow = await start(SLOW_YAML)
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'basir_runs{state="running"} 1.0' in text
    assert 'basir_tasks{state="running"}' in text or 'basir_tasks{state="queued"}' in text
    assert "basir_queue_depth" in text
    for family in (
        "basir_task_duration_seconds_bucket",
        "basir_schedule_latency_seconds_bucket",
        "basir_store_commit_seconds_bucket",
        "basir_sse_clients",
    ):
        assert family in text
    assert all(line.startswith(("#", "basir_")) for line in text.splitlines() if line.strip())
    await client.post(f"/api/v1/runs/{slow['run_id']}/cancel")
    await engine.wait(slow["run_id"])
    text = (await client.get("/metrics")).text
    assert 'basir_runs{state="running"} 0.0' in text


async def test_engine_observations_reach_the_registry() -> None:
    metrics = Metrics()
    metrics.observe_task(0.2, "succeeded")
    metrics.observe_task(-1, "failed")
    metrics.observe_run("succeeded")
    metrics.observe_schedule_latency(0.004)
    metrics.observe_commit(0.001)
    metrics.set_queue_depth(3)

    async def snapshot() -> StateSnapshot:
        return StateSnapshot(runs={"running": 2}, tasks={"queued": 5}, queue_depth=5)

    metrics.bind_state(snapshot)
    await metrics.refresh()
    text = metrics.render().decode()
    assert 'basir_task_attempts_finished_total{status="succeeded"} 1.0' in text
    assert 'basir_runs_finished_total{status="succeeded"} 1.0' in text
    assert "basir_schedule_latency_seconds_count 1.0" in text
    assert "basir_store_commit_seconds_count 1.0" in text
    assert 'basir_runs{state="running"} 2.0' in text
    assert "basir_queue_depth 5.0" in text
    # Two instances never share a registry.
    assert "basir_queue_depth 0.0" in Metrics().render().decode()


async def test_metrics_of_an_engine_are_used_by_the_app(engine: Engine, store: MemoryStore) -> None:
    from basir.api.app import create_app

    metrics = Metrics()
    engine.metrics = metrics
    app = create_app(engine, engine.settings)
    assert app.state.basir.metrics is metrics
