"""Resume after a crash stops an interrupted attempt's leftover processes, and only those."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from basir.config import Settings
from basir.coordinator.workflows import apply_workflow
from basir.engine.runtime import Engine
from basir.executors.processes import start_ticks
from basir.spec.models import WorkflowSpec
from basir.store.base import Store
from basir.store.records import Batch, RunInsert, RunRecord, TaskRecord

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting to be reaped does not)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
def leftover() -> Iterator[subprocess.Popen[bytes]]:
    """A process group like an orphaned attempt's: a shell and its child, in their own session."""
    proc = subprocess.Popen(["/bin/sh", "-c", "sleep 60 & wait"], start_new_session=True)
    yield proc
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


async def crashed_run(store: Store, pgid: int, ticks: int | None) -> str:
    """A run as a killed engine leaves it: its task `running`, with the recorded process."""
    spec = {"name": "orphan", "tasks": [{"id": "t", "run": "echo again >> ran.txt"}]}
    version, _ = await apply_workflow(store, WorkflowSpec.model_validate(spec))
    run = RunRecord(
        id="r-crashed", workflow=version.name, version=version.version, status="running"
    )
    task = TaskRecord(
        run.id,
        "t",
        "running",
        attempts=1,
        attempt_id="a1",
        started_at=1.0,
        attempt_pgid=pgid,
        attempt_proc_start=ticks,
    )
    await store.write(Batch([RunInsert(run, [task])]))
    return run.id


async def resume(store: Store, tmp_path: Path, run_id: str) -> dict[str, object]:
    engine = Engine(store, Settings(home=tmp_path / "home"), workdir=tmp_path)
    await engine.start(resume=True)
    final = await engine.wait(run_id)
    await engine.stop(grace_s=0)
    assert final.status == "succeeded"
    [event] = await store.list_events(run_id=run_id, types=("task.interrupted",))
    return event.data


async def test_resume_stops_the_recorded_group_before_the_task_runs_again(
    store: Store, tmp_path: Path, leftover: subprocess.Popen[bytes]
) -> None:
    children = psutil.Process(leftover.pid).children()
    run_id = await crashed_run(store, leftover.pid, start_ticks(leftover.pid))
    data = await resume(store, tmp_path, run_id)
    assert data["reason"] == "interrupted"
    assert data["killed_leftover"] is True and data["pgid"] == leftover.pid
    assert leftover.wait(10) == -signal.SIGTERM  # SIGTERM was enough
    assert not any(alive(child.pid) for child in children)
    assert (tmp_path / "ran.txt").read_text() == "again\n"
    [row] = await store.get_tasks(run_id)
    assert row.attempts == 2
    assert row.attempt_pgid not in {None, leftover.pid}  # the new attempt's own process


async def test_resume_stops_a_daemon_that_left_the_interrupted_attempts_group(
    store: Store, tmp_path: Path
) -> None:
    """The group is gone, but a process it started with `setsid` still runs that attempt."""
    leader = subprocess.Popen(["sleep", "0.3"], start_new_session=True)
    ticks = None
    while ticks is None:
        ticks = start_ticks(leader.pid)
    leader.wait()
    env = {**os.environ, "BASIR_ATTEMPT_ID": "a1"}
    daemon = subprocess.Popen(["sleep", "60"], start_new_session=True, env=env)
    try:
        while (Path(f"/proc/{daemon.pid}/cmdline").read_bytes() or b"").split(b"\0")[0] != b"sleep":
            pass  # until its exec is done: its own environment shows then
        run_id = await crashed_run(store, leader.pid, ticks)
        data = await resume(store, tmp_path, run_id)
        assert data["killed_leftover"] is True
        assert daemon.wait(10) == -signal.SIGTERM
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()


async def test_a_group_that_is_not_the_recorded_one_is_left_alone(
    store: Store, tmp_path: Path, leftover: subprocess.Popen[bytes]
) -> None:
    ticks = start_ticks(leftover.pid)
    assert ticks is not None
    # Same pid, later start: the kernel gave the pid to another process since.
    run_id = await crashed_run(store, leftover.pid, ticks - 1)
    data = await resume(store, tmp_path, run_id)
    assert data["killed_leftover"] is False and data["pgid"] == leftover.pid
    assert alive(leftover.pid)


async def test_a_new_attempt_forgets_the_previous_attempts_process(
    store: Store, tmp_path: Path
) -> None:
    # Queued again after an engine stop, still naming the process its last attempt had; the
    # new attempt starts none (a built-in), so nothing but the attempt start clears the record.
    spec = {"name": "requeued", "tasks": [{"id": "t", "uses": "echo", "with": {"message": "x"}}]}
    version, _ = await apply_workflow(store, WorkflowSpec.model_validate(spec))
    run = RunRecord(
        id="r-requeued", workflow=version.name, version=version.version, status="running"
    )
    task = TaskRecord(
        run.id, "t", "queued", attempts=1, queued_at=1.0, attempt_pgid=4321, attempt_proc_start=7
    )
    await store.write(Batch([RunInsert(run, [task])]))
    engine = Engine(store, Settings(home=tmp_path / "home"), workdir=tmp_path)
    await engine.start(resume=True)
    final = await engine.wait(run.id)
    await engine.stop(grace_s=0)
    assert final.status == "succeeded"
    [row] = await store.get_tasks(run.id)
    assert (row.attempts, row.attempt_pgid, row.attempt_proc_start) == (2, None, None)
