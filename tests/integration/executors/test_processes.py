"""Task processes across crashes: identity from /proc, the start gate, leftover groups."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from basir.executors import processes
from basir.executors.processes import (
    GATE_ABANDONED_EXIT,
    gated_argv,
    is_leftover,
    read_stat,
    start_ticks,
    stop_leftover,
)
from process_groups import live_members

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")


def wait_exit(pid: int, timeout_s: float = 10.0) -> bool:
    """Block until process `pid` (not necessarily our child) has exited."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], timeout_s)[0])
    finally:
        os.close(fd)


def session(script: str, groups: list[int], attempt_id: str = "att-1") -> subprocess.Popen[bytes]:
    """`sh -c script` as the leader of a new session (as task processes run)."""
    env = {**os.environ, "BASIR_ATTEMPT_ID": attempt_id}
    proc = subprocess.Popen(["/bin/sh", "-c", script], start_new_session=True, env=env)
    groups.append(proc.pid)
    return proc


def test_read_stat_identifies_a_process() -> None:
    stat = read_stat(os.getpid())
    assert stat is not None and stat.alive
    assert (stat.pgid, stat.sid) == (os.getpgid(0), os.getsid(0))
    assert stat.start_ticks == start_ticks(os.getpid()) > 0
    assert read_stat(2**22 + 1) is None  # above the kernel's pid limit: never a process


def test_read_stat_survives_odd_command_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "42").mkdir()
    fields = ["S", "1", "40", "41"] + ["0"] * 15 + ["987654", "0"]
    (tmp_path / "42" / "stat").write_bytes(b"42 (a) b (c) " + " ".join(fields).encode())
    (tmp_path / "43").mkdir()
    (tmp_path / "43" / "stat").write_bytes(b"43 (truncated")
    monkeypatch.setattr(processes, "PROC", str(tmp_path))
    stat = read_stat(42)
    assert stat is not None
    assert (stat.state, stat.pgid, stat.sid, stat.start_ticks) == ("S", 40, 41, 987654)
    assert read_stat(43) is None


def test_a_group_is_claimed_only_with_its_start_time(groups: list[int]) -> None:
    proc = session("exec sleep 60", groups)
    ticks = start_ticks(proc.pid)
    assert ticks is not None
    assert is_leftover(proc.pid, ticks)
    assert not is_leftover(proc.pid, ticks + 1)  # the same pid, another process
    assert not is_leftover(proc.pid, None)
    proc.kill()
    proc.wait()
    assert not is_leftover(proc.pid, ticks)


async def test_stop_leftover_stops_members_after_the_leader_died(
    groups: list[int], tmp_path: Path
) -> None:
    pid_file = tmp_path / "member"
    leader = session(f"sleep 60 & echo $! > {pid_file}; exit 0", groups)
    leader.wait()
    member = int(pid_file.read_text())
    assert live_members(leader.pid) == [member]
    member_ticks = start_ticks(member)
    assert member_ticks is not None
    ticks = member_ticks - 1  # the leader started before its member
    # Another attempt's group that got the same id (the first one had ended): not ours.
    assert not is_leftover(leader.pid, ticks, "att-2")
    assert not await stop_leftover(leader.pid, ticks, "att-2")
    assert not is_leftover(leader.pid, member_ticks + 1, "att-1")  # started before it: no
    assert await stop_leftover(leader.pid, ticks, "att-1")
    assert wait_exit(member)
    assert live_members(leader.pid) == []
    assert not await stop_leftover(leader.pid, ticks, "att-1")  # nothing left: nothing claimed


async def test_a_group_ignoring_sigterm_gets_sigkill(groups: list[int]) -> None:
    proc = subprocess.Popen(
        ["/bin/sh", "-c", "trap '' TERM; sleep 60 & echo ready; sleep 60; wait"],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    groups.append(proc.pid)
    assert proc.stdout is not None
    with proc.stdout:
        assert proc.stdout.readline() == b"ready\n"  # SIGTERM is ignored from here on
    ticks = start_ticks(proc.pid)
    assert await stop_leftover(proc.pid, ticks, grace_s=0.1)
    assert proc.wait(10) == -signal.SIGKILL
    assert live_members(proc.pid) == []


def test_the_gate_runs_the_body_only_after_the_go_byte(groups: list[int], tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    go_read, go_write = os.pipe()
    proc = subprocess.Popen(
        gated_argv(["/bin/sh", "-c", f'read -r line; echo "ran:$line" > {marker}']),
        stdin=go_read,
        start_new_session=True,
    )
    groups.append(proc.pid)
    os.close(go_read)
    # Waiting: the process exists (so it can be recorded) but the body has not begun.
    assert read_stat(proc.pid) is not None and not marker.exists()
    os.write(go_write, processes.GO_BYTE)
    os.close(go_write)
    assert proc.wait(10) == 0
    assert marker.read_text() == "ran:\n"  # the body's stdin is /dev/null, not the gate pipe


def test_an_abandoned_gate_never_runs_the_body(groups: list[int], tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    go_read, go_write = os.pipe()
    proc = subprocess.Popen(
        gated_argv(["/bin/sh", "-c", f"touch {marker}"]), stdin=go_read, start_new_session=True
    )
    groups.append(proc.pid)
    os.close(go_read)
    os.close(go_write)  # the engine died before releasing it
    assert proc.wait(10) == GATE_ABANDONED_EXIT
    assert not marker.exists()


@pytest.mark.skipif(not processes.gated_argv([])[0].endswith("setpriv"), reason="no setpriv")
def test_a_gated_process_dies_with_its_parent(groups: list[int], tmp_path: Path) -> None:
    """The parent-death signal: the engine's direct child goes when the engine goes."""
    parent = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, subprocess, sys\n"
            "from basir.executors.processes import gated_argv\n"
            "r, w = os.pipe()\n"
            "p = subprocess.Popen(gated_argv(['sleep', '60']), stdin=r, start_new_session=True,\n"
            "                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
            "os.write(w, b'\\n')\n"
            "print(p.pid, flush=True)\n"
            # Past the gate, so past setpriv's prctl: a parent gone earlier is never noticed
            # (the engine releases the gate only after a commit, long after that point).
            "while not open(f'/proc/{p.pid}/cmdline', 'rb').read().startswith(b'sleep'):\n"
            "    pass\n"
            "os._exit(0)\n",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    child = int(parent.stdout)
    groups.append(child)
    assert wait_exit(child)


def test_an_isolated_worker_dies_with_its_parent(tmp_path: Path) -> None:
    parent = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, subprocess, sys\n"
            "code = 'from basir.executors.processes import die_with_parent as d; "
            "import time; print(d(), flush=True); time.sleep(60)'\n"
            "p = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, "
            "stderr=subprocess.DEVNULL, text=True)\n"
            "assert p.stdout.readline().strip() == 'True'\n"
            "print(p.pid, flush=True)\n"
            "os._exit(0)\n",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert wait_exit(int(parent.stdout))


@pytest.mark.parametrize("help_text", [None, "Usage: setpriv [options] <program>"])
def test_no_parent_death_signal_without_a_setpriv_that_knows_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, help_text: str | None
) -> None:
    """An old setpriv (or none) must not break every shell task: the gate works without it."""
    if help_text is not None:
        fake = tmp_path / "setpriv"
        fake.write_text(f"#!/bin/sh\necho '{help_text}'\n")
        fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    processes._pdeathsig_prefix.cache_clear()
    try:
        assert gated_argv(["x"])[:2] == [processes.GATE_SHELL, "-c"]
    finally:
        monkeypatch.undo()
        processes._pdeathsig_prefix.cache_clear()
