"""Isolated python tasks: each call in a child process; crashes and cancellation stay local."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import psutil
import pytest

from basir.executors.base import JsonDict, TaskContext, TaskFailure
from basir.executors.python import PythonExecutor

MakeCtx = Callable[..., TaskContext]


def is_alive(pid: int) -> bool:
    """True while `pid` runs; a zombie nobody has reaped yet counts as gone."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def wait_until_gone(pid: int, timeout_s: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not is_alive(pid):
            return True
        await asyncio.sleep(0.02)
    return False


@pytest.fixture
async def executor() -> AsyncIterator[PythonExecutor]:
    executor = PythonExecutor(max_workers=8)
    yield executor
    await executor.aclose()


def isolated(ref: str, args: object = None) -> JsonDict:
    return {"python": ref, "args": args, "isolate": True}


async def test_runs_in_another_process_and_reuses_it(
    executor: PythonExecutor, make_ctx: MakeCtx
) -> None:
    first = await executor.execute(isolated("sample_funcs:pid"), make_ctx())
    second = await executor.execute(isolated("sample_funcs:pid"), make_ctx())
    assert first["result"] != os.getpid()
    assert first == second


async def test_args_async_and_context(executor: PythonExecutor, make_ctx: MakeCtx) -> None:
    ctx = make_ctx(run_id="r-9", env={"EXTRA": "x"})
    assert await executor.execute(isolated("sample_funcs:add", [2, 5]), ctx) == {"result": 7}
    assert await executor.execute(isolated("sample_funcs:async_add", {"a": 1, "b": 1}), ctx) == {
        "sum": 2
    }
    info = await executor.execute(isolated("sample_funcs:context_info"), ctx)
    assert info["run_id"] == info["env_run_id"] == "r-9"
    assert info["idempotency_key"] == "r-9/task-1"
    assert info["env_extra"] == "x"
    after = await executor.execute(isolated("sample_funcs:context_info"), make_ctx())
    assert after["env_extra"] is None  # the task's env does not leak into the next call


async def test_crash_fails_only_that_task_and_the_next_call_works(
    executor: PythonExecutor, make_ctx: MakeCtx
) -> None:
    slow = asyncio.ensure_future(
        executor.execute(isolated("sample_funcs:async_add", [1, 1]), make_ctx())
    )
    with pytest.raises(TaskFailure, match="the task's process crashed"):
        await executor.execute(isolated("sample_funcs:crash", [3]), make_ctx())
    assert await slow == {"sum": 2}
    assert await executor.execute(isolated("sample_funcs:add", [1, 2]), make_ctx()) == {"result": 3}


async def test_concurrent_neighbour_survives_a_crash(
    executor: PythonExecutor, make_ctx: MakeCtx
) -> None:
    neighbour = asyncio.ensure_future(
        executor.execute(isolated("sample_funcs:blocking_sleep", [0.5]), make_ctx())
    )
    with pytest.raises(TaskFailure, match="crashed"):
        await executor.execute(isolated("sample_funcs:crash"), make_ctx())
    assert await neighbour == {}


async def test_exception_in_child(executor: PythonExecutor, make_ctx: MakeCtx) -> None:
    ctx = make_ctx()
    with pytest.raises(TaskFailure) as info:
        await executor.execute(isolated("sample_funcs:boom", ["child says no"]), ctx)
    assert info.value.message == "ValueError: child says no"
    assert "Traceback" in ctx.log_path.read_text()


async def test_system_exit_and_task_failure_in_child(
    executor: PythonExecutor, make_ctx: MakeCtx
) -> None:
    with pytest.raises(TaskFailure, match="SystemExit: 4"):
        await executor.execute(isolated("sample_funcs:exit_now"), make_ctx())
    with pytest.raises(TaskFailure) as info:
        await executor.execute(isolated("sample_funcs:fail_with_outputs"), make_ctx())
    assert (info.value.message, info.value.outputs) == ("custom failure", {"partial": 1})


async def test_non_json_and_too_large_in_child(executor: PythonExecutor, make_ctx: MakeCtx) -> None:
    with pytest.raises(TaskFailure, match="must return JSON"):
        await executor.execute(isolated("sample_funcs:not_json"), make_ctx())
    with pytest.raises(TaskFailure, match="limit of 1000 bytes"):
        await executor.execute(
            isolated("sample_funcs:big", [5000]), make_ctx(outputs_cap_bytes=1000)
        )


async def test_load_error_in_child(executor: PythonExecutor, make_ctx: MakeCtx) -> None:
    with pytest.raises(TaskFailure, match="ModuleNotFoundError"):
        await executor.execute(isolated("no_such_module_xyz:f"), make_ctx())


async def test_timeout_kills_the_child(
    executor: PythonExecutor, make_ctx: MakeCtx, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    task = asyncio.ensure_future(
        executor.execute(isolated("sample_funcs:write_pid_and_sleep", [str(pid_file)]), make_ctx())
    )
    for _ in range(500):
        if pid_file.exists() and pid_file.read_text():
            break
        await asyncio.sleep(0.01)
    pid = int(pid_file.read_text())
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 5  # not the task's own sleep
    assert await wait_until_gone(pid)
    assert await executor.execute(isolated("sample_funcs:add", [1, 1]), make_ctx()) == {"result": 2}


async def test_close_kills_running_children(make_ctx: MakeCtx, tmp_path: Path) -> None:
    executor = PythonExecutor(max_workers=4)
    pid_file = tmp_path / "pid"
    task = asyncio.ensure_future(
        executor.execute(isolated("sample_funcs:write_pid_and_sleep", [str(pid_file)]), make_ctx())
    )
    for _ in range(500):
        if pid_file.exists() and pid_file.read_text():
            break
        await asyncio.sleep(0.01)
    executor.close()
    with pytest.raises(TaskFailure, match="crashed"):
        await task
    assert await wait_until_gone(int(pid_file.read_text()))


async def test_an_idle_process_that_died_is_replaced_not_blamed(
    executor: PythonExecutor, make_ctx: MakeCtx
) -> None:
    first = (await executor.execute(isolated("sample_funcs:pid"), make_ctx()))["result"]
    os.kill(first, signal.SIGKILL)
    assert await wait_until_gone(first)
    second = (await executor.execute(isolated("sample_funcs:pid"), make_ctx()))["result"]
    assert second != first


async def test_idle_processes_are_capped(make_ctx: MakeCtx) -> None:
    executor = PythonExecutor(max_workers=8, max_idle_processes=1)
    try:
        body = isolated("sample_funcs:blocking_sleep", [0.3])
        await asyncio.gather(*(executor.execute(body, make_ctx()) for _ in range(3)))
        pids = {
            (await executor.execute(isolated("sample_funcs:pid"), make_ctx()))["result"]
            for _ in range(3)
        }
        assert len(pids) == 1
    finally:
        executor.close()


async def test_a_limited_call_limits_its_worker_for_the_call_only(
    executor: PythonExecutor, make_ctx: MakeCtx
) -> None:
    import resource

    from basir.executors.memory import MemoryLimit

    limited = make_ctx(memory_limit=MemoryLimit(256 << 20, "rlimit"))
    first = await executor.execute(isolated("sample_funcs:address_space_limit"), limited)
    soft, hard = first["result"]
    assert 256 << 20 < soft < (256 << 20) + (2 << 30)  # the limit above what it already maps
    assert hard == resource.RLIM_INFINITY  # soft only: lifted again after the call
    second = await executor.execute(isolated("sample_funcs:address_space_limit"), make_ctx())
    assert second["result"] == [resource.RLIM_INFINITY, resource.RLIM_INFINITY]
    assert (await executor.execute(isolated("sample_funcs:pid"), make_ctx()))["result"] == (
        await executor.execute(isolated("sample_funcs:pid"), limited)
    )["result"]  # one warm worker all along


def test_a_dead_process_not_yet_reaped_counts_as_gone() -> None:
    """A worker killed while idle is a zombie until the fork server reaps it; it must not be
    handed the next call (which would then fail as if the task had crashed it)."""
    import subprocess
    from concurrent.futures import ProcessPoolExecutor

    from basir.executors.isolation import _Worker

    child = subprocess.Popen(["sleep", "30"])
    try:
        worker = _Worker(ProcessPoolExecutor(max_workers=1), child.pid)
        assert worker.is_alive()
        os.kill(child.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert not worker.is_alive()  # a zombie, unreaped: still listed, not alive
        worker.retire()
    finally:
        child.kill()
        child.wait()
