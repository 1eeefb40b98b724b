"""Seconds waited per pool: counted while tasks wait, shown in the status and the metrics."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from basir.config import Settings
from basir.coordinator.workflows import apply_workflow
from basir.engine.runtime import Engine
from basir.monitoring.metrics import Metrics
from basir.monitoring.snapshot import engine_state
from basir.spec.models import WorkflowSpec
from basir.store.base import Store


async def test_waits_for_a_pool_are_counted(store: Store, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", shutdown_grace_s=0.0, pools={"gradle": 1})
    engine = Engine(store, settings, workdir=tmp_path)
    await engine.start(resume=False)
    try:
        build = {"uses": "sleep", "with": {"seconds": 0.6}, "resources": {"pools": {"gradle": 1}}}
        spec = {"name": "waits", "tasks": [{"id": "a", **build}, {"id": "b", **build}]}
        version, _ = await apply_workflow(store, WorkflowSpec.model_validate(spec))
        run_id = (await engine.submit(version)).id
        await asyncio.sleep(0.3)
        gradle = next(p for p in engine.resources_status()["pools"] if p["name"] == "gradle")
        assert gradle["waiting"] == 1
        assert 0.1 < gradle["waited_s"] < 0.6  # the current wait counts as it goes
        assert (await asyncio.wait_for(engine.wait(run_id), 20)).status == "succeeded"
        gradle = next(p for p in engine.resources_status()["pools"] if p["name"] == "gradle")
        assert gradle["waiting"] == 0
        assert 0.4 < gradle["waited_s"] < 3  # b waited for a's 0.6 s
        metrics = Metrics()
        metrics.bind_state(engine_state(engine))
        await metrics.refresh()
        text = metrics.render().decode()
        assert 'basir_pool_wait_seconds_total{pool="gradle"} ' + str(gradle["waited_s"]) in text
    finally:
        await engine.stop(grace_s=0)


async def test_a_queue_wait_is_not_a_pool_wait_and_frees_tell_the_hooks(
    store: Store, tmp_path: Path
) -> None:
    settings = Settings(
        home=tmp_path / "home", shutdown_grace_s=0.0, pools={"gradle": 2}, queues="builds=1"
    )
    engine = Engine(store, settings, workdir=tmp_path)
    await engine.start(resume=False)
    freed: list[str] = []
    engine.flow.admission.on_free.append(lambda run, task: freed.append(task.id))
    try:
        build = {
            "uses": "sleep",
            "with": {"seconds": 0.5},
            "queue": "builds",
            "resources": {"pools": {"gradle": 1}},
        }
        spec = {"name": "qwaits", "tasks": [{"id": "a", **build}, {"id": "b", **build}]}
        version, _ = await apply_workflow(store, WorkflowSpec.model_validate(spec))
        run_id = (await engine.submit(version)).id
        await asyncio.sleep(0.3)
        status = engine.resources_status()
        gradle = next(p for p in status["pools"] if p["name"] == "gradle")
        assert gradle["waiting"] == 0  # b waits in the queue's line, holding no gradle slot
        assert gradle["in_use"] == 1
        assert (await asyncio.wait_for(engine.wait(run_id), 20)).status == "succeeded"
        admission = engine.flow.admission
        assert sorted(freed) == ["a", "b"]
        assert admission.allocator.held == {} and admission.throttle.held == {}
        waited = admission.wait_totals(time.time())
        assert set(waited) <= {"gradle"} and waited.get("gradle", 0.0) == 0.0
        rows = {row.task_id: row for row in await store.get_tasks(run_id)}
        assert rows["b"].throttled_s is not None and rows["b"].throttled_s > 0.3
    finally:
        await engine.stop(grace_s=0)
