"""Live usage of running tasks and memory limits, measured on real processes."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from basir.config import Settings
from basir.coordinator.workflows import apply_workflow
from basir.engine.report import run_to_dict
from basir.engine.runtime import Engine
from basir.engine.usage_watch import CPU_SERIES, MEMORY_SERIES
from basir.spec.models import WorkflowSpec
from basir.store.base import Store

PY = sys.executable
# Holds about 300 MiB resident (touched pages), then sleeps: far over a 64Mi limit.
HOG = f"{PY} -c 'b = bytearray(300 << 20); import time; time.sleep(60)'"
# Burns cpu in a background child (the group, not only the shell, is measured), then waits.
BURN = f"{PY} -c 'import time\nend = time.time() + 1.5\nwhile time.time() < end: pass' & wait"


@pytest.fixture
async def sampled(store: Store, tmp_path: Path) -> AsyncIterator[Engine]:
    """An engine sampling usage every 0.1 s and writing history at every pass; the sampler
    alone limits memory (the kernel's limits: `test_memory_limits`)."""
    settings = Settings(
        home=tmp_path / "home",
        shutdown_grace_s=0.0,
        usage_interval_s=0.1,
        metrics_interval_s=0.1,
        memory_limit="sampler",
    )
    engine = Engine(store, settings, workdir=tmp_path)
    await engine.start(resume=False)
    yield engine
    await engine.stop(grace_s=0)


async def submit(engine: Engine, tasks: list[dict[str, Any]]) -> str:
    spec = WorkflowSpec.model_validate({"name": "usage", "tasks": tasks})
    version, _ = await apply_workflow(engine.store, spec)
    return (await engine.submit(version)).id


async def test_a_task_over_its_memory_is_stopped_with_its_own_reason(sampled: Engine) -> None:
    task = {"id": "hog", "run": HOG, "resources": {"memory": "64Mi"}, "timeout": "30s"}
    with sampled.bus.subscribe(lambda e: e.type == "resource.memory_exceeded") as exceeded:
        started = time.monotonic()
        run_id = await submit(sampled, [task])
        event = await asyncio.wait_for(exceeded.get(), 20)
        final = await asyncio.wait_for(sampled.wait(run_id), 20)
    assert time.monotonic() - started < 20  # stopped, not left to its 60 s sleep
    assert event.data["reason"] == "oom"
    assert event.data["limit_bytes"] == 64 << 20
    assert event.data["memory_bytes"] > 64 << 20
    assert final.status == "failed"
    result = run_to_dict(final, await sampled.store.get_tasks(run_id))
    hog = result["tasks"]["hog"]
    assert hog["status"] == "failed"
    assert "more than its limit of 64Mi (oom)" in hog["error"]
    assert "signal" not in hog["error"]  # the reason, not the bare SIGKILL
    assert hog["usage"]["peak_memory_bytes"] > 64 << 20
    assert sampled.usage.stopped_for_memory == 1
    assert sampled.usage.tasks == {}  # nothing of it is still watched


async def test_a_task_within_its_memory_runs_and_its_usage_is_kept(sampled: Engine) -> None:
    task = {"id": "burn", "run": BURN, "resources": {"memory": "1Gi", "cpu": 1}}
    run_id = await submit(sampled, [task])
    live: dict[str, Any] = {}
    for _ in range(100):  # the running task is measured: its group's cpu and memory now
        await asyncio.sleep(0.05)
        live = sampled.usage.live(run_id).get("burn", {})
        if live.get("samples", 0) >= 3 and live["cpu_cores"] > 0.1:
            break
    assert live["processes"] >= 2  # the shell and its background child
    assert live["memory_bytes"] > 1 << 20
    status = sampled.resources_status()
    cpu = next(p for p in status["pools"] if p["name"] == "cpu")
    assert cpu["used"] > 0  # measured use beside what is held
    final = await asyncio.wait_for(sampled.wait(run_id), 20)
    assert final.status == "succeeded"
    [row] = await sampled.store.get_tasks(run_id)
    assert row.usage is not None
    assert 0.1 < row.usage["cpu_seconds"] < 5  # up to 1.5 s of busy loop (a shared machine)
    assert row.usage["peak_memory_bytes"] > 1 << 20
    assert row.usage["io_read_bytes"] >= 0 and row.usage["io_write_bytes"] >= 0  # read as well
    assert sampled.usage.live(run_id) == {}
    await asyncio.sleep(0.4)  # the next history write adds its peaks, when it ended
    end = time.time() + 1
    memory = await sampled.store.metrics_query(MEMORY_SERIES, 0, 0, end)
    assert max(p.value for p in memory) == row.usage["peak_memory_bytes"]
    for name in (CPU_SERIES, MEMORY_SERIES):  # kept as history, raw and per minute
        for resolution in (0, 60):
            points = await sampled.store.metrics_query(name, resolution, 0, end)
            labels = {json.loads(p.labels)["task_id"] for p in points}
            assert labels == {"burn"}, (name, resolution)


# About 100 MiB resident for 2 s, then success: over 64Mi, within 128Mi.
GROWER = f"{PY} -c 'b = bytearray(100 << 20); import time; time.sleep(2)'"


async def test_a_retry_after_a_stop_for_memory_gets_a_grown_limit(sampled: Engine) -> None:
    task = {
        "id": "grow",
        "run": GROWER,
        "resources": {"memory": "64Mi"},
        "retries": {"max": 2, "delay": "10ms", "on_oom": {"grow": 2, "max": "128Mi"}},
    }
    with sampled.bus.subscribe(lambda e: e.type == "resource.memory_exceeded") as exceeded:
        run_id = await submit(sampled, [task])
        final = await asyncio.wait_for(sampled.wait(run_id), 30)
        event = exceeded.get_nowait()
    assert event.data["limit_bytes"] == 64 << 20
    assert event.data["next_limit_bytes"] == 128 << 20
    assert final.status == "succeeded"
    [row] = await sampled.store.get_tasks(run_id)
    assert row.attempts == 2  # stopped once at 64Mi, then ran within 128Mi
    assert row.memory_limit == 128 << 20
    assert sampled.usage.stopped_for_memory == 1


async def test_an_idle_task_declaring_cpu_is_told_to_declare_less(sampled: Engine) -> None:
    from basir.monitoring.resource_report import advise, analytics

    task = {"id": "idle", "run": "sleep 1.5", "resources": {"cpu": 2, "memory": "1Gi"}}
    run_id = await submit(sampled, [task])
    assert (await asyncio.wait_for(sampled.wait(run_id), 20)).status == "succeeded"
    await asyncio.sleep(0.4)  # its ended peaks reach the history
    capacities = {p["name"]: p["capacity"] for p in sampled.resources_status()["pools"]}
    now = time.time() + 1
    data = await analytics(sampled.store, capacities, 3600, now)
    [profile] = data["tasks"]
    assert (profile["workflow"], profile["task"], profile["declared_cpu"]) == ("usage", "idle", 2)
    assert profile["samples"] >= 3 and profile["cpu_p95"] < 0.5
    items = (await advise(sampled.store, capacities, 3600, now))["items"]
    kinds = {(item["kind"], item["resource"]) for item in items}
    assert kinds == {("lower_request", "cpu"), ("lower_request", "memory")}
    cpu = next(item for item in items if item["resource"] == "cpu")
    assert cpu["message"].startswith("usage/idle declares 2 cpu but used")
