"""Task processes across crashes: who they are (`/proc`), how they start, how leftovers stop.

No two live attempts of one task (DESIGN §2.7).  A task process is started *gated*: it waits
for one byte on its standard input before it runs the body, so the engine can first record
its process group and start time in the store.  The start time is field 22 of
`/proc/<pid>/stat` (clock ticks since boot), so a pid the kernel has since given to another
process is never mistaken for the task.  After a crash, `stop_leftover` stops the group of an
interrupted attempt only if it is still that very process group.

Where Linux allows it the process also dies with the engine that started it: `setpriv
--pdeathsig KILL` (util-linux) arms the parent-death signal before the gate, and isolated python
workers arm it themselves with `prctl`.  That kills the group leader only; anything else still
in its group is stopped by the next `basir resume` or server start.

Standard library only: an isolated python child imports this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

PROC = "/proc"
GATE_SHELL = "/bin/sh"
# Exit status of a gated process whose engine went away before releasing it.
GATE_ABANDONED_EXIT = 111
# Wait for the go byte on stdin, then become the body with stdin from /dev/null.  End of file
# instead of the byte means the engine died before recording us: run nothing.
GATE_SCRIPT = f'read -r go || exit {GATE_ABANDONED_EXIT}; exec "$@" </dev/null'
GO_BYTE = b"\n"
ATTEMPT_MARKER = b"BASIR_ATTEMPT_ID="
LEFTOVER_GRACE_S = 1.0
LEFTOVER_KILL_WAIT_S = 5.0
POLL_INTERVAL_S = 0.02
SETPRIV_PROBE_TIMEOUT_S = 5.0
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True, slots=True)
class ProcStat:
    """The fields of `/proc/<pid>/stat` that identify a process and its group."""

    pid: int
    state: str
    pgid: int
    sid: int
    start_ticks: int

    @property
    def alive(self) -> bool:
        """False for a zombie or a dead process (it runs nothing any more)."""
        return self.state not in {"Z", "X", "x"}


def read_stat(pid: int) -> ProcStat | None:
    """The identity of process `pid`, or None when it does not exist (or /proc is absent)."""
    try:
        with open(f"{PROC}/{pid}/stat", "rb") as file:
            raw = file.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = raw[raw.rfind(b")") + 2 :].split()
    try:
        return ProcStat(
            pid=pid,
            state=fields[0].decode(),
            pgid=int(fields[2]),
            sid=int(fields[3]),
            start_ticks=int(fields[19]),
        )
    except (IndexError, ValueError):
        return None


def start_ticks(pid: int) -> int | None:
    """When process `pid` started, in clock ticks since boot; None when unknown."""
    stat = read_stat(pid)
    return None if stat is None else stat.start_ticks


def group_members(pgid: int, since_ticks: int, attempt_id: str | None = None) -> list[ProcStat]:
    """Live processes of session-leading group `pgid` started no earlier than `since_ticks`.

    Used when the group's leader has gone.  The kernel never hands out a pid still in use as a
    group id, so while the recorded group lives no other group can take its id; but once it
    has ended, the id may come back (after a reboot, or much later).  With `attempt_id`, a
    member must also carry `BASIR_ATTEMPT_ID=<attempt_id>` in the environment it started
    with, as everything an attempt starts does unless it clears its environment.
    """
    members: list[ProcStat] = []
    try:
        names = os.listdir(PROC)
    except OSError:
        return members
    marker = None if attempt_id is None else f"BASIR_ATTEMPT_ID={attempt_id}".encode()
    for name in names:
        if not name.isdigit():
            continue
        stat = read_stat(int(name))
        if (
            stat is not None
            and stat.alive
            and stat.pgid == pgid
            and stat.sid == pgid
            and stat.start_ticks >= since_ticks
            and (marker is None or _started_with(stat.pid, marker))
        ):
            members.append(stat)
    return members


def _started_with(pid: int, entry: bytes) -> bool:
    """Whether `entry` (`NAME=value`) is in the environment process `pid` was started with."""
    try:
        with open(f"{PROC}/{pid}/environ", "rb") as file:
            return entry in file.read().split(b"\0")
    except OSError:  # gone, or another user's: not ours to stop
        return False


def is_leftover(pgid: int, recorded_ticks: int | None, attempt_id: str | None = None) -> bool:
    """Whether group `pgid` still runs processes of the attempt that recorded `recorded_ticks`.

    The leader (pid = pgid) must have exactly the recorded start time; when it has died, live
    members of the group started after it, from that attempt (`group_members`), count.
    Without a recorded start time nothing is claimed: a process is never signalled on a guess.
    """
    if recorded_ticks is None or pgid <= 1:
        return False
    leader = read_stat(pgid)
    if leader is not None and leader.alive:
        return leader.pgid == pgid and leader.start_ticks == recorded_ticks
    if leader is not None and leader.start_ticks != recorded_ticks:
        return False  # a zombie that is some other process: the recorded group is gone
    return bool(group_members(pgid, recorded_ticks, attempt_id))


def signal_group(pgid: int, signum: signal.Signals) -> bool:
    """Signal every process of the group; False when the group is already empty."""
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        return False
    return True


async def stop_leftover(
    pgid: int,
    recorded_ticks: int | None,
    attempt_id: str | None = None,
    *,
    grace_s: float = LEFTOVER_GRACE_S,
) -> bool:
    """Stop the leftover group of an interrupted attempt: SIGTERM, up to `grace_s`, SIGKILL.

    Returns True when the group was still there (and is now stopped), False when there was
    nothing of that attempt left (`is_leftover`).  The processes are not our children, so
    their end is seen in `/proc`, polled every `POLL_INTERVAL_S`.
    """
    if not is_leftover(pgid, recorded_ticks, attempt_id):
        return False
    assert recorded_ticks is not None
    signal_group(pgid, signal.SIGTERM)
    if not await _wait_gone(pgid, recorded_ticks, attempt_id, grace_s):
        signal_group(pgid, signal.SIGKILL)
        await _wait_gone(pgid, recorded_ticks, attempt_id, LEFTOVER_KILL_WAIT_S)
    return True


async def _wait_gone(
    pgid: int, recorded_ticks: int, attempt_id: str | None, timeout_s: float
) -> bool:
    deadline = time.monotonic() + timeout_s
    while is_leftover(pgid, recorded_ticks, attempt_id):
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(POLL_INTERVAL_S)
    return True


async def stop_leftovers(groups: dict[str, tuple[int, int | None, str | None]]) -> set[str]:
    """Stop several leftover groups at once (one grace period for all); the keys stopped.

    `groups` maps a key to `(pgid, recorded start ticks, attempt id)`.
    """
    keys = list(groups)
    found = await asyncio.gather(*(stop_leftover(*groups[key]) for key in keys))
    return {key for key, stopped in zip(keys, found, strict=True) if stopped}


def _attempt_of(pid: int) -> bytes | None:
    """The `BASIR_ATTEMPT_ID` process `pid` was started with, None without one (or unreadable)."""
    try:
        with open(f"{PROC}/{pid}/environ", "rb") as file:
            entries = file.read().split(b"\0")
    except OSError:
        return None
    for entry in entries:
        if entry.startswith(ATTEMPT_MARKER):
            return entry[len(ATTEMPT_MARKER) :]
    return None


def escaped_members(attempts: dict[str, int]) -> dict[str, list[ProcStat]]:
    """Live processes of ended attempts wherever they are now, in one `/proc` pass.

    `attempts` maps an attempt id to when its process group started (clock ticks).  A process
    belongs to one when it carries `BASIR_ATTEMPT_ID=<id>` in the environment it started with
    and started no earlier than that attempt: this finds what left the attempt's group on
    purpose (`setsid`, a double-forked daemon), which signalling the group cannot reach.  Only
    processes started after the oldest of them have their environment read.
    """
    found: dict[str, list[ProcStat]] = {}
    if not attempts:
        return found
    oldest = min(attempts.values())
    try:
        names = os.listdir(PROC)
    except OSError:
        return found
    for name in names:
        if not name.isdigit():
            continue
        stat = read_stat(int(name))
        if stat is None or not stat.alive or stat.start_ticks < oldest:
            continue
        owner = _attempt_of(stat.pid)
        attempt = None if owner is None else owner.decode(errors="replace")
        if attempt in attempts and stat.start_ticks >= attempts[attempt]:
            found.setdefault(attempt, []).append(stat)
    return found


def _still(stat: ProcStat) -> bool:
    """Whether the very process `stat` describes is still alive (not a reused pid)."""
    now = read_stat(stat.pid)
    return now is not None and now.alive and now.start_ticks == stat.start_ticks


async def stop_processes(stats: list[ProcStat], *, grace_s: float = LEFTOVER_GRACE_S) -> None:
    """SIGTERM each process, SIGKILL those still there after `grace_s` (never a reused pid)."""
    for signum, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, LEFTOVER_KILL_WAIT_S)):
        for stat in stats:
            if _still(stat):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(stat.pid, signum)
        deadline = time.monotonic() + wait_s
        while any(_still(stat) for stat in stats) and time.monotonic() < deadline:
            await asyncio.sleep(POLL_INTERVAL_S)
        stats = [stat for stat in stats if _still(stat)]
        if not stats:
            return


@functools.cache
def _pdeathsig_prefix() -> tuple[str, ...]:
    """`setpriv --pdeathsig KILL --` when this machine's setpriv knows it (util-linux ≥ 2.33)."""
    setpriv = shutil.which("setpriv") if sys.platform.startswith("linux") else None
    if setpriv is None:
        return ()
    try:  # asked once per process: a few milliseconds
        usage = subprocess.run(
            [setpriv, "--help"], capture_output=True, timeout=SETPRIV_PROBE_TIMEOUT_S, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    return (setpriv, "--pdeathsig", "KILL", "--") if b"--pdeathsig" in usage else ()


def gated_argv(argv: list[str]) -> list[str]:
    """`argv` behind the gate (and the parent-death signal where `setpriv` exists).

    Start the result with the read end of a pipe as standard input; write `GO_BYTE` to release
    it once its identity is recorded.  The body then sees /dev/null as standard input.
    """
    return [*_pdeathsig_prefix(), GATE_SHELL, "-c", GATE_SCRIPT, "basir-gate", *argv]


def die_with_parent(signum: int = signal.SIGKILL) -> bool:
    """Arm this process's parent-death signal (Linux `prctl`); False where that is impossible.

    Called first thing in an isolated python worker.  If the parent is already gone (the worker
    was adopted before the call), the worker exits at once: it has nobody to work for.
    """
    if not sys.platform.startswith("linux"):
        return False
    parent = os.getppid()
    with contextlib.suppress(OSError):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0) == 0:
            if os.getppid() != parent:
                os._exit(1)
            return True
    return False
