"""Steering live runs: pause, resume, cancel, retry, add tasks, hold tasks, crash recovery."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import psutil
import pytest

from basir.config import Settings
from basir.coordinator.workflows import apply_workflow
from basir.engine.runtime import Engine
from basir.errors import BasirError, ConflictError, NotFoundError
from basir.spec.models import WorkflowSpec
from basir.store.base import Store


def alive(pid: int) -> bool:
    """True if the process exists and is not a zombie waiting to be reaped."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def apply(engine: Engine, document: dict) -> object:
    version, _ = await apply_workflow(engine.store, WorkflowSpec.model_validate(document))
    return version


async def until(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def task_status(store: Store, run_id: str, task_id: str) -> str:
    rows = {row.task_id: row for row in await store.get_tasks(run_id)}
    return str(rows[task_id].status)


async def test_cancel_kills_running_process_group(engine: Engine, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    version = await apply(
        engine,
        {
            "name": "long",
            "tasks": [
                {"id": "s", "run": f"sleep 60 & echo $! > {pid_file}; wait"},
                {"id": "next", "needs": ["s"], "uses": "noop"},
            ],
        },
    )
    run = await engine.submit(version)

    async def started() -> bool:
        return pid_file.exists() and pid_file.read_text().strip() != ""

    await until(started)
    began = time.monotonic()
    await engine.cancel_run(run.id, by="tester")
    final = await engine.wait(run.id)
    assert time.monotonic() - began < 5
    assert final.status == "cancelled"
    assert await task_status(engine.store, run.id, "s") == "cancelled"
    assert await task_status(engine.store, run.id, "next") == "cancelled"
    grandchild = int(pid_file.read_text())
    await asyncio.sleep(0.1)
    assert not alive(grandchild)


async def test_pause_holds_new_tasks_and_resume_continues(engine: Engine) -> None:
    version = await apply(
        engine,
        {
            "name": "pausable",
            "tasks": [
                {"id": "a", "uses": "sleep", "with": {"seconds": 0.3}},
                {"id": "b", "needs": ["a"], "uses": "noop"},
            ],
        },
    )
    run = await engine.submit(version)
    paused = await engine.pause_run(run.id, by="tester")
    assert paused.status == "paused"

    async def a_done() -> bool:
        return await task_status(engine.store, run.id, "a") == "succeeded"

    await until(a_done)
    await asyncio.sleep(0.2)
    assert await task_status(engine.store, run.id, "b") == "queued"  # held back by the pause
    await engine.resume_run(run.id, by="tester")
    final = await engine.wait(run.id)
    assert final.status == "succeeded"
    types = [e.type for e in await engine.store.list_events(run_id=run.id, limit=1000)]
    assert "run.paused" in types and "run.resumed" in types
    paused_event = next(
        e
        for e in await engine.store.list_events(run_id=run.id, limit=1000)
        if e.type == "run.paused"
    )
    assert paused_event.data["by"] == "tester"


async def test_retry_reruns_only_failed_tasks_in_place(engine: Engine, tmp_path: Path) -> None:
    marker = tmp_path / "count"
    version = await apply(
        engine,
        {
            "name": "retryable",
            "tasks": [
                {"id": "ok", "uses": "noop"},
                {
                    "id": "flaky",
                    "needs": ["ok"],
                    "python": "engine_funcs:flaky",
                    "args": [str(marker), 1],
                },
                {"id": "after", "needs": ["flaky"], "uses": "noop"},
            ],
        },
    )
    run = await engine.submit(version)
    first = await engine.wait(run.id)
    assert first.status == "failed"
    ok_before = {r.task_id: r for r in await engine.store.get_tasks(run.id)}["ok"]
    with pytest.raises(NotFoundError):
        await engine.retry_run(run.id + "x")
    retried = await engine.retry_run(run.id, by="tester")
    assert retried.id == run.id
    final = await engine.wait(run.id)
    assert final.status == "succeeded"
    rows = {r.task_id: r for r in await engine.store.get_tasks(run.id)}
    assert rows["ok"].attempts == 1 and rows["ok"].finished_at == ok_before.finished_at
    assert rows["flaky"].status == "succeeded" and rows["after"].status == "succeeded"
    with pytest.raises(ConflictError) as caught:
        await engine.retry_run(run.id)
    assert caught.value.code == "run.nothing_to_retry"


async def test_add_tasks_to_a_live_run(engine: Engine) -> None:
    version = await apply(
        engine,
        {
            "name": "growing",
            "tasks": [
                {"id": "a", "uses": "sleep", "with": {"seconds": 0.3}},
            ],
        },
    )
    run = await engine.submit(version)
    with pytest.raises(BasirError) as caught:
        await engine.add_tasks(
            run.id, [{"id": "a", "uses": "noop"}, {"id": "x", "needs": ["ghost"], "uses": "noop"}]
        )
    fields = {d["field"] for d in caught.value.details}
    assert "tasks[0].id" in fields and "tasks[1].needs" in fields
    with pytest.raises(BasirError):
        await engine.add_tasks(
            run.id,
            [
                {"id": "p", "needs": ["q"], "uses": "noop"},
                {"id": "q", "needs": ["p"], "uses": "noop"},
            ],
        )
    await engine.add_tasks(
        run.id,
        [
            {"id": "b", "needs": ["a"], "uses": "echo", "with": {"message": "added"}},
        ],
        by="tester",
    )
    final = await engine.wait(run.id)
    assert final.status == "succeeded"
    rows = {r.task_id: r for r in await engine.store.get_tasks(run.id)}
    assert rows["b"].outputs == {"message": "added"}


async def test_hold_a_task_then_release_it(engine: Engine) -> None:
    version = await apply(
        engine,
        {
            "name": "holding",
            "tasks": [
                {"id": "a", "uses": "sleep", "with": {"seconds": 0.2}},
                {"id": "b", "needs": ["a"], "uses": "noop"},
            ],
        },
    )
    run = await engine.submit(version)
    await engine.pause_task(run.id, "b", by="tester")

    async def a_done() -> bool:
        return await task_status(engine.store, run.id, "a") == "succeeded"

    await until(a_done)
    await asyncio.sleep(0.2)
    assert await task_status(engine.store, run.id, "b") == "queued"
    await engine.resume_task(run.id, "b", by="tester")
    assert (await engine.wait(run.id)).status == "succeeded"


async def test_stop_a_running_task_without_spending_a_retry(engine: Engine) -> None:
    version = await apply(
        engine,
        {
            "name": "stoppable",
            "tasks": [
                {"id": "s", "uses": "sleep", "with": {"seconds": 30}},
            ],
        },
    )
    run = await engine.submit(version)

    async def running() -> bool:
        return await task_status(engine.store, run.id, "s") == "running"

    await until(running)
    resume_at = time.time() + 0.3
    await engine.pause_task(run.id, "s", stop_running=True, resume_at=resume_at, by="tester")

    async def requeued() -> bool:
        return await task_status(engine.store, run.id, "s") == "queued"

    await until(requeued)
    await until(running)  # released by itself at resume_at
    rows = {r.task_id: r for r in await engine.store.get_tasks(run.id)}
    assert rows["s"].attempts == 1
    await engine.cancel_run(run.id)
    assert (await engine.wait(run.id)).status == "cancelled"


async def test_resume_after_crash_reruns_only_the_interrupted_task(
    store: Store, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path / "home")
    first = Engine(store, settings, workdir=tmp_path)
    await first.start(resume=False)
    version = await apply(
        first,
        {
            "name": "crashy",
            "tasks": [
                {"id": "a", "run": "echo a >> ran.txt"},
                {
                    "id": "b",
                    "needs": ["a"],
                    "run": "if [ -f go ]; then echo b >> ran.txt; else sleep 30; fi",
                },
                {"id": "c", "needs": ["b"], "run": "echo c >> ran.txt"},
            ],
        },
    )
    run = await first.submit(version)

    async def b_running() -> bool:
        return await task_status(store, run.id, "b") == "running"

    await until(b_running)
    # Simulate kill -9 of the engine: nothing more gets recorded by it.
    first.flow.closing = True
    if first._pump_task is not None:
        first._pump_task.cancel()
    for attempt in list(first.flow.attempts.values()):
        attempt.cancel()
    await asyncio.sleep(0.05)
    assert await task_status(store, run.id, "b") == "running"

    (tmp_path / "go").write_text("")
    second = Engine(store, settings, workdir=tmp_path)
    await second.start(resume=False)
    await second.resume(run.id)
    final = await second.wait(run.id)
    await second.stop(grace_s=0)
    assert final.status == "succeeded"
    assert (tmp_path / "ran.txt").read_text().split() == ["a", "b", "c"]
    rows = {r.task_id: r for r in await store.get_tasks(run.id)}
    assert rows["a"].attempts == 1  # never re-run
    assert rows["b"].attempts == 2  # the interrupted attempt ran once more
    events = [e.type for e in await store.list_events(run_id=run.id, limit=1000)]
    assert events.count("task.interrupted") == 1


async def test_retry_reruns_only_the_failed_foreach_instances(
    engine: Engine, tmp_path: Path
) -> None:
    version = await apply(
        engine,
        {
            "name": "fan-retry",
            "tasks": [
                {
                    "id": "each",
                    "foreach": "${{ [0, 1, 2] }}",
                    "run": f"echo ${{{{ item }}}} >> {tmp_path}/ran; "
                    f"if [ ${{{{ item }}}} = 1 ] && [ ! -f {tmp_path}/fixed ]; then exit 1; fi",
                },
                {"id": "after", "needs": ["each"], "uses": "noop"},
            ],
        },
    )
    run = await engine.submit(version)
    assert (await engine.wait(run.id)).status == "failed"
    (tmp_path / "fixed").write_text("")
    await engine.retry_run(run.id)
    assert (await engine.wait(run.id)).status == "succeeded"
    assert sorted((tmp_path / "ran").read_text().split()) == ["0", "1", "1", "2"]
    rows = {r.task_id: r for r in await engine.store.get_tasks(run.id)}
    assert rows["each"].status == "succeeded" and rows["after"].status == "succeeded"
    assert [rows[f"each[{i}]"].attempts for i in range(3)] == [1, 1, 1]
