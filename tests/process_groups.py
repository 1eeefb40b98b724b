"""Watching and cleaning up the process groups a test starts (Linux, `/proc` through psutil).

Shared by the tests of leftover processes (executors, `basir run` + resume, `basir server`
restart); the `groups` fixture lives in tests/conftest.py.
"""

from __future__ import annotations

import contextlib
import os
import signal

import psutil


def live_members(pgid: int) -> list[int]:
    """Pids of the group's processes that still run (zombies are not running)."""
    found = []
    for proc in psutil.process_iter(["status"]):
        with contextlib.suppress(ProcessLookupError, psutil.Error):
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(proc.pid)
    return found


def kill_groups(pgids: list[int]) -> None:
    """SIGKILL whatever is left of these process groups."""
    for pgid in pgids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


def attempt_processes(attempt_id: str) -> list[int]:
    """Live processes started with this attempt's `BASIR_ATTEMPT_ID`, wherever they are now
    (in its group or not: a daemon that left it with `setsid` still carries the variable)."""
    marker = f"BASIR_ATTEMPT_ID={attempt_id}".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as file:
                started_with = file.read().split(b"\0")
            with open(f"/proc/{name}/stat", "rb") as file:
                state = file.read().rsplit(b") ", 1)[1][:1]
        except OSError:
            continue
        if marker in started_with and state != b"Z":
            found.append(int(name))
    return found
