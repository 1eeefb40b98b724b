"""`TaskContext.on_spawn`: a task's process is recorded before its body starts, or never runs."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import psutil
import pytest

from basir.executors.base import JsonDict, TaskContext
from basir.executors.processes import start_ticks
from basir.executors.python import PythonExecutor
from basir.executors.shell import ShellExecutor

MakeCtx = Callable[..., TaskContext]
pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")


class Recorder:
    """An `on_spawn` hook that notes what it was told and leaves a file behind when done."""

    def __init__(self, path: Path, *, fail: bool = False, block: bool = False) -> None:
        self.path = path
        self.fail = fail
        self.block = block
        self.calls: list[tuple[int, int | None]] = []
        self.called = asyncio.Event()

    async def __call__(self, pgid: int, ticks: int | None) -> None:
        self.calls.append((pgid, ticks))
        self.called.set()
        if self.block:
            await asyncio.Event().wait()
        if self.fail:
            raise RuntimeError("store is down")
        # What the real hook's durable write stands for: visible only once the hook returns.
        self.path.write_text(f"{pgid} {ticks}")


def group_alive(pgid: int) -> bool:
    """Whether any process of the group still runs (zombies do not count)."""
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.Error):
            continue
    return False


@pytest.fixture
async def python() -> AsyncIterator[PythonExecutor]:
    executor = PythonExecutor(max_workers=4)
    yield executor
    await executor.aclose()


SHELL_PROBE = (
    'echo "pid=$$" >> "$BASIR_OUTPUT"; '
    'if [ -f recorded ]; then echo "first=yes" >> "$BASIR_OUTPUT"; fi; '
    "echo body > body-ran"
)


async def test_a_shell_is_recorded_before_its_body_runs(make_ctx: MakeCtx, tmp_path: Path) -> None:
    hook = Recorder(tmp_path / "work" / "recorded")
    outputs = await ShellExecutor().execute({"run": SHELL_PROBE}, make_ctx(on_spawn=hook))
    assert outputs["first"] == "yes"
    [(pgid, ticks)] = hook.calls
    assert int(outputs["pid"]) == pgid  # the shell leads its group: pid = pgid
    assert ticks is not None and ticks > 0


@pytest.mark.parametrize("mode", ["fail", "cancel"])
async def test_a_shell_whose_record_fails_never_runs(
    make_ctx: MakeCtx, tmp_path: Path, mode: str
) -> None:
    hook = Recorder(tmp_path / "recorded", fail=mode == "fail", block=mode == "cancel")
    ctx = make_ctx(on_spawn=hook)
    attempt = asyncio.ensure_future(ShellExecutor().execute({"run": SHELL_PROBE}, ctx))
    await hook.called.wait()
    if mode == "cancel":
        attempt.cancel()
    with pytest.raises(RuntimeError if mode == "fail" else asyncio.CancelledError):
        await attempt
    [(pgid, _ticks)] = hook.calls
    assert not group_alive(pgid)
    assert not (tmp_path / "work" / "body-ran").exists()


async def test_an_isolated_call_is_recorded_before_it_is_sent(
    python: PythonExecutor, make_ctx: MakeCtx, tmp_path: Path
) -> None:
    recorded = tmp_path / "recorded"
    hook = Recorder(recorded)
    body: JsonDict = {
        "python": "sample_funcs:process_identity",
        "args": [str(recorded)],
        "isolate": True,
    }
    first = await python.execute(body, make_ctx(on_spawn=hook))
    assert first["recorded_first"] is True
    # The worker leads its own session: its group holds what the task starts, nothing else.
    assert first["pid"] == first["pgid"] == first["sid"] != os.getpid()
    assert hook.calls == [(first["pid"], start_ticks(first["pid"]))]
    recorded.unlink()
    second = await python.execute(body, make_ctx(on_spawn=hook))  # the warm worker again
    assert second["recorded_first"] is True
    assert hook.calls[1] == hook.calls[0]


async def test_an_isolated_call_whose_record_fails_is_never_sent(
    python: PythonExecutor, make_ctx: MakeCtx, tmp_path: Path
) -> None:
    hook = Recorder(tmp_path / "recorded", fail=True)
    marker = tmp_path / "ran"
    body: JsonDict = {"python": "sample_funcs:write_pid_and_sleep", "args": [str(marker), 0]}
    with pytest.raises(RuntimeError):
        await python.execute({**body, "isolate": True}, make_ctx(on_spawn=hook))
    assert not marker.exists()
    # The worker was not harmed: the next call runs in it.
    ok = Recorder(tmp_path / "recorded")
    await python.execute({**body, "isolate": True}, make_ctx(on_spawn=ok))
    assert marker.exists() and ok.calls[0][0] == hook.calls[0][0]


async def test_a_python_call_in_process_needs_no_record(
    python: PythonExecutor, make_ctx: MakeCtx, tmp_path: Path
) -> None:
    hook = Recorder(tmp_path / "recorded")
    assert await python.execute(
        {"python": "sample_funcs:add", "args": [1, 2]}, make_ctx(on_spawn=hook)
    ) == {"result": 3}
    assert hook.calls == []
