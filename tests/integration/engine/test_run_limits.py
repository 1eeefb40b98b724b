"""`max_active_runs` and a workflow `concurrency_key`: runs over a limit stay queued for a turn."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import resource_funcs

from basir.config import Settings
from basir.coordinator.workflows import apply_workflow
from basir.engine.runtime import Engine
from basir.errors import BasirError
from basir.i18n import use_locale
from basir.spec.models import WorkflowSpec
from basir.store.base import Store
from basir.store.records import WorkflowVersion

GATE = "resource_funcs:gate"


@pytest.fixture
async def engine(store: Store, tmp_path: Path) -> AsyncIterator[Engine]:
    started = Engine(store, Settings(home=tmp_path / "home", shutdown_grace_s=0.0))
    await started.start(resume=False)
    resource_funcs.GATES.clear()
    yield started
    await started.stop(grace_s=0)


def open_gate(name: str) -> None:
    resource_funcs.GATES.setdefault(name, asyncio.Event()).set()


async def workflow(engine: Engine, **extra: Any) -> WorkflowVersion:
    document = {
        "name": "limited",
        "params": {"branch": {"default": "main"}},
        "tasks": [{"id": "work", "python": GATE, "args": ["${{ params.branch }}"]}],
        **extra,
    }
    version, _ = await apply_workflow(engine.store, WorkflowSpec.model_validate(document))
    return version


async def status(engine: Engine, run_id: str) -> str:
    record = await engine.store.get_run(run_id)
    assert record is not None
    return record.status


async def test_max_active_runs_queues_the_rest_until_one_ends(engine: Engine) -> None:
    version = await workflow(engine, max_active_runs=1)
    with engine.bus.subscribe(lambda e: e.type == "run.waiting") as waiting:
        first = (await engine.submit(version, params={"branch": "a"})).id
        with use_locale("ar"):  # decided in an Arabic request: the event's text stays English
            second = (await engine.submit(version, params={"branch": "b"})).id
        third = (await engine.submit(version, params={"branch": "c"}, trigger="schedule")).id
        reason = (await asyncio.wait_for(waiting.get(), 5)).data["reason"]
    assert reason == (
        f"waiting for a run of limited to end: 1/1 active (max_active_runs), the first {first}"
    )
    assert [w["reason"] for w in engine.gate.status()["runs_waiting"]] == [reason, reason]
    with use_locale("ar"):  # shown in the reader's language
        shown = [w["reason"] for w in engine.gate.status()["runs_waiting"]]
    arabic = f"في انتظار انتهاء تشغيل من limited: 1/1 نشطة (max_active_runs)، أولها {first}"
    assert shown == [arabic, arabic]
    assert [await status(engine, r) for r in (first, second, third)] == [
        "running",
        "queued",
        "queued",
    ]
    rows = await engine.store.get_tasks(second)
    assert [row.status for row in rows] == ["pending"]  # nothing of it started
    open_gate("a")
    assert (await engine.wait(first)).status == "succeeded"
    await asyncio.sleep(0.05)
    assert [await status(engine, r) for r in (second, third)] == ["running", "queued"]
    open_gate("b")
    open_gate("c")
    finals = [await engine.wait(r) for r in (second, third)]
    assert [f.status for f in finals] == ["succeeded", "succeeded"]
    assert finals[0].finished_at is not None and finals[1].started_at is not None
    assert finals[1].started_at >= finals[0].finished_at - 0.01
    assert engine.gate.limits.held == {}


async def test_same_key_runs_serialise_while_other_keys_proceed(engine: Engine) -> None:
    version = await workflow(engine, concurrency_key="${{ params.branch }}")
    main1 = (await engine.submit(version, params={"branch": "main"})).id
    main2 = (await engine.submit(version, params={"branch": "main"})).id
    dev = (await engine.submit(version, params={"branch": "dev"})).id
    await asyncio.sleep(0.05)
    assert [await status(engine, r) for r in (main1, main2, dev)] == [
        "running",
        "queued",
        "running",
    ]
    open_gate("dev")
    assert (await engine.wait(dev)).status == "succeeded"
    assert await status(engine, main2) == "queued"  # dev ending frees no main slot
    open_gate("main")
    assert (await engine.wait(main1)).status == "succeeded"
    assert (await engine.wait(main2)).status == "succeeded"
    assert engine.gate.limits.held == {}


async def test_waiting_runs_can_be_cancelled_not_paused(engine: Engine) -> None:
    version = await workflow(engine, max_active_runs=1)
    first = (await engine.submit(version, params={"branch": "x"})).id
    second = (await engine.submit(version, params={"branch": "y"})).id
    with pytest.raises(BasirError) as refused:
        await engine.pause_run(second)
    assert refused.value.code == "run.waiting"
    await engine.cancel_run(second)
    assert (await engine.wait(second)).status == "cancelled"
    await engine.cancel_run(first)
    assert (await engine.wait(first)).status == "cancelled"
    assert engine.gate.limits.held == {} and not any(engine.gate.waiting.values())


async def test_retry_respects_the_limit(engine: Engine) -> None:
    version = await workflow(engine, max_active_runs=1)
    done = (await engine.submit(version, params={"branch": "r1"})).id
    await engine.cancel_run(done)
    assert (await engine.wait(done)).status == "cancelled"
    busy = (await engine.submit(version, params={"branch": "r2"})).id
    with pytest.raises(BasirError) as refused:
        await engine.retry_run(done)
    assert refused.value.code == "run.limit_reached"
    assert refused.value.message.startswith("waiting for a run of limited to end: 1/1 active")
    open_gate("r2")
    assert (await engine.wait(busy)).status == "succeeded"
    open_gate("r1")
    await engine.retry_run(done)
    assert (await engine.wait(done)).status == "succeeded"


async def test_a_restart_counts_active_runs_before_queued_ones(
    store: Store, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path / "home", shutdown_grace_s=0.0)
    first = Engine(store, settings)
    await first.start(resume=False)
    resource_funcs.GATES.clear()
    version = await workflow(first, max_active_runs=1)
    runs = [(await first.submit(version, params={"branch": b})).id for b in ("p", "q")]
    await first.stop(grace_s=0)
    second = Engine(store, settings)
    await second.start(resume=True)
    try:
        await asyncio.sleep(0.05)
        assert [await status(second, r) for r in runs] == ["running", "queued"]
        open_gate("p")
        open_gate("q")
        assert [(await second.wait(r)).status for r in runs] == ["succeeded", "succeeded"]
    finally:
        await second.stop(grace_s=0)


async def test_a_key_that_cannot_be_rendered_refuses_the_run(engine: Engine) -> None:
    version = await workflow(engine, concurrency_key="${{ params.branch }}")
    with pytest.raises(BasirError) as refused:
        await engine.submit(version, params={"branch": "x" * 300})
    assert refused.value.code == "run.invalid_key"
    assert "at most 256" in refused.value.message
    assert (await engine.store.list_runs()).items == []  # nothing was kept
