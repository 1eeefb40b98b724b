"""Analytics, recommendations and forecasts from the metric history; live usage beside tasks."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import MAX_BODY_BYTES, assert_problem

from basir.config import Settings
from basir.engine.runtime import Engine
from basir.store.records import MetricPoint

Start = Callable[..., Awaitable[dict[str, Any]]]
DAY = 86400.0


@pytest.fixture
def settings(basir_home: Path) -> Settings:
    """Two `gradle` slots; usage sampled every 0.1 s."""
    return Settings(
        home=basir_home,
        max_body_bytes=MAX_BODY_BYTES,
        shutdown_grace_s=0.0,
        pools="gradle=2",
        usage_interval_s=0.1,
    )


async def seed_gradle_history(engine: Engine, now: float) -> None:
    """A day of per-minute points: gradle held more and more, tasks waiting 41 min for it."""
    labels = json.dumps({"pool": "gradle"})
    points = []
    for minute in range(0, 24 * 60, 10):
        at = float(now - DAY + minute * 60 + 30)
        held = 1.0 + minute / (24 * 60)  # from half full to nearly full over the day
        waited = 41 * 60 * minute / (24 * 60 - 10)
        points += [
            MetricPoint("basir_pool_capacity", labels, 60, at, 2.0),
            MetricPoint("basir_pool_in_use", labels, 60, at, held),
            MetricPoint("basir_pool_wait_seconds_total", labels, 60, at, waited),
        ]
    await engine.store.metrics_write(points)


async def test_analytics_recommendations_and_forecast(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    await seed_gradle_history(engine, time.time())
    analytics = await client.get("/api/v1/resources/analytics", params={"window": "1d"})
    assert analytics.status_code == 200, analytics.text
    data = analytics.json()
    assert data["window_s"] == DAY and data["resolution_s"] == 60
    [bottleneck] = data["bottlenecks"]
    assert bottleneck["pool"] == "gradle"
    assert bottleneck["waited_s"] == pytest.approx(41 * 60, abs=1)
    assert 0.7 < bottleneck["utilisation_mean"] < 0.8
    assert {p["pool"] for p in data["pools"]} >= {"cpu", "memory", "gradle"}

    advice = (await client.get("/api/v1/resources/recommendations?window=1d")).json()
    [item] = advice["items"]
    assert item["kind"] == "raise_pool" and item["suggested"] == 3
    assert item["message"] == (
        "raise pool gradle from 2 to 3: tasks waited 41 min for it in the last 24h"
    )
    arabic = await client.get(
        "/api/v1/resources/recommendations?window=1d", headers={"Accept-Language": "ar"}
    )
    message = arabic.json()["items"][0]["message"]
    assert "gradle" in message and "41" in message and "raise" not in message

    forecast = (await client.get("/api/v1/resources/forecast?window=1d&scale=2")).json()
    gradle = next(p for p in forecast["pools"] if p["pool"] == "gradle")
    assert gradle["trend_per_day"] == pytest.approx(0.5, rel=0.05)
    assert 0 < gradle["saturates_in_s"] < DAY  # nearly full already and rising
    assert gradle["needed_capacity"] == pytest.approx(4, rel=0.02)  # twice the peak load
    cpu = next(p for p in forecast["pools"] if p["pool"] == "cpu")
    assert cpu["saturates_in_s"] is None  # no history: no claim


async def test_bad_windows_and_scales_are_refused(client: httpx.AsyncClient) -> None:
    for path in ("analytics", "recommendations", "forecast"):
        response = await client.get(f"/api/v1/resources/{path}", params={"window": "2s"})
        assert_problem(response, 422, "resources.bad_window")
    response = await client.get("/api/v1/resources/forecast", params={"scale": "0"})
    assert_problem(response, 422, "resources.bad_scale")


BURNER = f"""\
name: burner
tasks:
  - id: burn
    run: "{sys.executable} -c 'import time; b = bytearray(32 << 20); time.sleep(30)'"
    resources: {{memory: 256Mi}}
"""


async def test_a_running_task_shows_its_usage(
    client: httpx.AsyncClient, start: Start, engine: Engine
) -> None:
    run_id = (await start(BURNER))["run_id"]
    usage: dict[str, Any] = {}
    for _ in range(200):
        await asyncio.sleep(0.05)
        usage = (
            (await client.get(f"/api/v1/runs/{run_id}")).json()["tasks"]["burn"].get("usage", {})
        )
        if usage.get("memory_bytes", 0) > 32 << 20:
            break
    assert usage["memory_bytes"] > 32 << 20  # the bytearray, resident
    assert usage["processes"] >= 1 and usage["samples"] >= 1
    status = (await client.get("/api/v1/resources")).json()
    memory = next(p for p in status["pools"] if p["name"] == "memory")
    assert memory["in_use"] == 256 << 20 and memory["used"] > 32 << 20
    await client.post(f"/api/v1/runs/{run_id}/cancel")
    await engine.wait(run_id)
    ended = (await client.get(f"/api/v1/runs/{run_id}")).json()["tasks"]["burn"]
    assert ended["status"] == "cancelled"
    assert ended["usage"]["peak_memory_bytes"] > 32 << 20  # kept with the task once it ended
