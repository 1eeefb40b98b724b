"""Nothing a task held outlives it: the normal end path, and the sweeper for what leaks."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from basir.config import Settings
from basir.coordinator.workflows import apply_workflow
from basir.engine import resource_policies
from basir.engine.runtime import Engine
from basir.engine.state import RunState
from basir.executors.processes import read_stat, start_ticks
from basir.i18n import render_message
from basir.spec.models import WorkflowSpec
from basir.store.base import Store
from process_groups import attempt_processes


@pytest.fixture
async def swept(store: Store, tmp_path: Path) -> AsyncIterator[Engine]:
    """An engine with one `gradle` slot whose sweeper only runs when a test asks."""
    settings = Settings(
        home=tmp_path / "home", shutdown_grace_s=0.0, pools={"gradle": 1}, sweep_interval_s=0
    )
    engine = Engine(store, settings, workdir=tmp_path)
    engine.sweeper.temp_root = tmp_path / "tmp"
    engine.sweeper.temp_root.mkdir()
    await engine.start(resume=False)
    yield engine
    await engine.stop(grace_s=0)


async def submit(engine: Engine, tasks: list[dict[str, Any]]) -> str:
    spec = WorkflowSpec.model_validate({"name": "sweep", "tasks": tasks})
    version, _ = await apply_workflow(engine.store, spec)
    return (await engine.submit(version)).id


async def until_exec(pid: int) -> None:
    """Wait until a just-started `sleep` has completed its exec (its own environment shows)."""
    for _ in range(200):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as file:
                if file.read().startswith(b"sleep\0"):
                    return
        except OSError:
            pass
        await asyncio.sleep(0.01)
    raise AssertionError(f"process {pid} never became sleep")


async def leak_events(engine: Engine) -> list[dict[str, Any]]:
    await engine._flush()
    events = await engine.store.list_events(limit=1000, types=("resource.leak_fixed",))
    return [e.data for e in events]


async def test_a_task_that_backgrounds_a_child_leaves_nothing(swept: Engine) -> None:
    script = 'echo "tmp=$TMPDIR" >> "$BASIR_OUTPUT"; sleep 300 & echo started'
    run_id = await submit(swept, [{"id": "bg", "run": script}])
    assert (await asyncio.wait_for(swept.wait(run_id), 20)).status == "succeeded"
    [row] = await swept.store.get_tasks(run_id)
    assert row.attempt_id is not None
    assert attempt_processes(row.attempt_id) == []  # the backgrounded sleep is gone too
    assert not Path(row.outputs["tmp"]).exists()  # and its private TMPDIR
    assert await swept.sweeper.sweep() == []  # nothing left for the net


async def test_the_sweeper_releases_a_hold_without_an_attempt(swept: Engine) -> None:
    allocator = swept.flow.admission.allocator
    assert allocator.acquire(("ghost", "lost"), {"gradle": 1}, time.time()) is None  # a leak
    with swept.bus.subscribe(lambda e: e.type == "task.started") as started:
        run_id = await submit(
            swept, [{"id": "build", "uses": "noop", "resources": {"pools": {"gradle": 1}}}]
        )
        await asyncio.sleep(0.2)
        [row] = await swept.store.get_tasks(run_id)
        assert (
            render_message(row.waiting) == "waiting for gradle: 1/1 in use by run ghost task lost"
        )
        fixed = await swept.sweeper.sweep()
        assert fixed == [
            {"kind": "held", "run_id": "ghost", "task_id": "lost", "pools": {"gradle": 1}}
        ]
        assert (await asyncio.wait_for(started.get(), 10)).task_id == "build"
    assert (await asyncio.wait_for(swept.wait(run_id), 20)).status == "succeeded"
    assert [e["kind"] for e in await leak_events(swept)] == ["held"]
    assert allocator.held == {}


async def test_the_sweeper_stops_a_surviving_group_of_an_ended_attempt(swept: Engine) -> None:
    env = {**os.environ, "BASIR_ATTEMPT_ID": "ended-attempt"}
    survivor = subprocess.Popen(["sleep", "300"], start_new_session=True, env=env)
    try:
        await until_exec(survivor.pid)
        ticks = start_ticks(survivor.pid)
        ended = ("r1", "t1", survivor.pid, ticks, "ended-attempt", time.time())
        swept.sweeper.ended.append(ended)
        assert await swept.sweeper.sweep() == []  # just ended: it may still be exiting
        assert survivor.poll() is None
        fixed = await swept.sweeper.sweep(now=time.time() + 60)
        assert fixed == [
            {"kind": "processes", "run_id": "r1", "task_id": "t1", "pgid": survivor.pid}
        ]
        assert survivor.wait(timeout=10) is not None
        assert swept.sweeper.ended == type(swept.sweeper.ended)()
    finally:
        if survivor.poll() is None:
            survivor.kill()
            survivor.wait()
    assert [e["kind"] for e in await leak_events(swept)] == ["processes"]


async def test_a_reused_worker_of_an_ended_attempt_is_left_alone(swept: Engine) -> None:
    """An isolated python worker outlives each call by design: not started by the attempt
    (no `BASIR_ATTEMPT_ID` of it in its environment), so it is never a leak."""
    env = {k: v for k, v in os.environ.items() if k != "BASIR_ATTEMPT_ID"}
    worker = subprocess.Popen(["sleep", "300"], start_new_session=True, env=env)
    try:
        await until_exec(worker.pid)
        ended = ("r1", "t1", worker.pid, start_ticks(worker.pid), "call-1", time.time() - 60)
        swept.sweeper.ended.append(ended)
        assert await swept.sweeper.sweep() == []
        assert worker.poll() is None
    finally:
        worker.kill()
        worker.wait()


async def test_the_sweeper_removes_only_dead_owners_old_directories(swept: Engine) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()  # its pid now names no process
    root = swept.sweeper.temp_root
    assert root is not None
    old = time.time() - 3600
    orphan = root / f"basir-out-{dead.pid}-abc"
    fresh = root / f"basir-tmp-{dead.pid}-new"
    mine = root / f"basir-out-{os.getpid()}-live"
    other = root / "unrelated-dir"
    for path in (orphan, fresh, mine, other):
        (path / "tmp").mkdir(parents=True)
        (path / "outputs").write_text("x=1\n")
    for path in (orphan, mine, other):
        os.utime(path, (old, old))
    fixed = await swept.sweeper.sweep()
    assert fixed == [{"kind": "temp_dir", "path": str(orphan)}]
    assert not orphan.exists()
    assert fresh.exists() and mine.exists() and other.exists()
    assert [e["kind"] for e in await leak_events(swept)] == ["temp_dir"]


async def test_the_sweeper_gives_back_a_leaked_quota_count(swept: Engine) -> None:
    ghost = SimpleNamespace(
        id="ghost", record=SimpleNamespace(namespace="default", workflow="x", status="running")
    )
    await resource_policies.set_quota(swept, "default", {"tasks": 1})
    governor = swept.flow.admission.governor
    governor.took(cast(RunState, ghost), ("ghost", "lost"), {}, time.time())  # a leak
    with swept.bus.subscribe(lambda e: e.type == "task.started") as started:
        run_id = await submit(swept, [{"id": "build", "uses": "noop"}])
        await asyncio.sleep(0.2)
        [row] = await swept.store.get_tasks(run_id)
        assert render_message(row.waiting) == (
            "waiting for quota of namespace default: 1/1 tasks running"
        )
        fixed = await swept.sweeper.sweep()
        assert fixed == [{"kind": "held", "run_id": "ghost", "task_id": "lost", "pools": {}}]
        assert (await asyncio.wait_for(started.get(), 10)).task_id == "build"
    assert (await asyncio.wait_for(swept.wait(run_id), 20)).status == "succeeded"
    assert governor.holders() == []


DAEMONS = (
    "setsid sleep 301 >/dev/null 2>&1 </dev/null & "
    "python3 -c 'import os,time\nif os.fork() == 0:\n  os.setsid()\n  if os.fork() == 0:\n"
    "    time.sleep(302)\n  os._exit(0)\nos.wait()'; sleep 0.5"
)


async def test_a_daemon_that_left_the_group_is_stopped_by_the_sweeper(swept: Engine) -> None:
    """`setsid` and a double fork leave the attempt's process group, so stopping the group
    cannot reach them; the sweeper finds them by the attempt id they started with."""
    run_id = await submit(swept, [{"id": "daemon", "run": DAEMONS}])
    assert (await asyncio.wait_for(swept.wait(run_id), 20)).status == "succeeded"
    [row] = await swept.store.get_tasks(run_id)
    assert row.attempt_id is not None
    survivors = attempt_processes(row.attempt_id)
    assert len(survivors) == 2  # what a group signal cannot reach
    groups = {stat.pgid for stat in map(read_stat, survivors) if stat is not None}
    assert len(groups) == 2  # each in a group of its own now
    try:
        fixed = await swept.sweeper.sweep(now=time.time() + 60)
        assert attempt_processes(row.attempt_id) == []
        assert [(f["kind"], f["task_id"]) for f in fixed] == [("processes", "daemon")] * 2
        assert {f["pgid"] for f in fixed} == groups
        assert [e["kind"] for e in await leak_events(swept)] == ["processes", "processes"]
    finally:
        for pid in attempt_processes(row.attempt_id):
            os.kill(pid, 9)


async def test_ended_attempts_are_checked_soon_not_only_at_the_next_sweep(
    store: Store, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path / "home", shutdown_grace_s=0.0, sweep_interval_s=3600)
    engine = Engine(store, settings, workdir=tmp_path)
    await engine.start(resume=False)
    attempt_id = None
    try:
        script = "setsid sleep 303 >/dev/null 2>&1 </dev/null & sleep 0.5"
        run_id = await submit(engine, [{"id": "daemon", "run": script}])
        assert (await asyncio.wait_for(engine.wait(run_id), 20)).status == "succeeded"
        [row] = await engine.store.get_tasks(run_id)
        attempt_id = row.attempt_id
        assert attempt_id is not None and len(attempt_processes(attempt_id)) == 1
        deadline = time.monotonic() + 20
        while not await leak_events(engine) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert attempt_processes(attempt_id) == []  # seconds after the end, not an hour
        assert [e["kind"] for e in await leak_events(engine)] == ["processes"]
    finally:
        await engine.stop(grace_s=0)
        for pid in attempt_processes(attempt_id) if attempt_id else []:
            os.kill(pid, 9)
