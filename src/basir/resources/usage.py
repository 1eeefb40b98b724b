"""Live usage of running tasks: one pass over `/proc` for every process group, cpu and RSS.

A task's attempt leads its own session, so its process group (`attempt_pgid`) is everything it
started (a process that calls `setsid` on purpose leaves it).  `scan_groups` reads
`/proc/<pid>/stat` once per process on the machine and adds up, per watched group, the cpu
time (user + system, plus that of reaped children) and the resident memory of its live
members: one pass for all tasks, never a thread or a `psutil.Process` per task (psutil reads
three files per process for the same numbers; the system-wide figures still come from psutil).

The rest is pure: `advance` turns two scans into a cpu rate and keeps peaks and totals, and
`summary` is what a task row keeps once its attempt ends.
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection
from dataclasses import dataclass

PROC = "/proc"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
# `/proc/<pid>/stat` fields after the command name, 0-based from field 3 (state).
_PGID, _SID, _UTIME, _STIME, _CUTIME, _CSTIME, _RSS = 2, 3, 11, 12, 13, 14, 21


@dataclass(frozen=True, slots=True)
class GroupUsage:
    """What the live members of one process group use now."""

    processes: int = 0
    cpu_ticks: int = 0  # user + system time, own and reaped children's, in clock ticks
    rss_bytes: int = 0
    io_read_bytes: int | None = None  # storage I/O, own and reaped children's (when read)
    io_write_bytes: int | None = None


def parse_io(raw: bytes) -> tuple[int, int] | None:
    """`(read_bytes, write_bytes)` of one `/proc/<pid>/io`, None when they are missing."""
    found: dict[bytes, int] = {}
    for line in raw.splitlines():
        key, _sep, value = line.partition(b": ")
        if key in {b"read_bytes", b"write_bytes"}:
            try:
                found[key] = int(value)
            except ValueError:
                return None
    if len(found) != 2:
        return None
    return found[b"read_bytes"], found[b"write_bytes"]


def parse_stat(
    raw: bytes, watched: Collection[int] | None = None
) -> tuple[int, int, int, int] | None:
    """`(pgid, sid, cpu_ticks, rss_bytes)` of one `/proc/<pid>/stat`; None for a zombie, junk,
    or (with `watched`) a process outside the watched groups — told from its group id alone,
    before the rest is parsed, since most processes of a machine are not a task's."""
    fields = raw[raw.rfind(b")") + 2 :].split(b" ", _RSS + 1)
    try:
        pgid = int(fields[_PGID])
        if watched is not None and pgid not in watched:
            return None
        if fields[0] in {b"Z", b"X", b"x"}:
            return None
        cpu = (
            int(fields[_UTIME]) + int(fields[_STIME]) + int(fields[_CUTIME]) + int(fields[_CSTIME])
        )
        return pgid, int(fields[_SID]), cpu, int(fields[_RSS]) * PAGE_BYTES
    except (IndexError, ValueError):
        return None


def _read_stat(path: str) -> bytes | None:
    """One `stat` file in a single read (raw `os` calls: no buffered file object per process)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None  # gone between the listing and the read
    try:
        return os.read(fd, 4096)
    except OSError:
        return None
    finally:
        os.close(fd)


def scan_groups(
    pgids: Collection[int], proc: str = PROC, *, with_io: bool = False
) -> dict[int, GroupUsage]:
    """Usage of each watched session-leading group with a live member (one `/proc` pass).

    A member must be in the group *and* the session the group leads, as `executors.processes`
    requires, so a stranger that happens to reuse the number is never counted.  With
    `with_io`, each member's `/proc/<pid>/io` is read too (one more read per task process, so
    the sampler asks for it only every history interval).  Blocking (file reads): call it off
    the event loop.
    """
    watched = set(pgids)
    totals: dict[int, list[int]] = {}
    if not watched:
        return {}
    try:
        names = os.listdir(proc)
    except OSError:
        return {}
    for name in names:
        if not name.isdigit():
            continue
        raw = _read_stat(f"{proc}/{name}/stat")
        parsed = None if raw is None else parse_stat(raw, watched)
        if parsed is None or parsed[1] != parsed[0]:
            continue
        entry = totals.setdefault(parsed[0], [0, 0, 0, 0, 0])
        entry[0] += 1
        entry[1] += parsed[2]
        entry[2] += parsed[3]
        if with_io:
            raw_io = _read_stat(f"{proc}/{name}/io")
            io = None if raw_io is None else parse_io(raw_io)
            if io is not None:
                entry[3] += io[0]
                entry[4] += io[1]
    return {
        pgid: GroupUsage(*values[:3], *(values[3:] if with_io else (None, None)))
        for pgid, values in totals.items()
    }


@dataclass(slots=True)
class TaskUsage:
    """One attempt's usage so far: now, at its peak, and in total."""

    pgid: int
    started: float  # when it was first sampled
    sampled: float = 0.0
    cpu_ticks: int = 0  # as last seen (the group's running total)
    cpu_cores: float = 0.0  # the rate between the last two samples
    rss_bytes: int = 0
    processes: int = 0
    peak_rss_bytes: int = 0
    peak_cpu_cores: float = 0.0
    cpu_seconds: float = 0.0  # the sum of positive increments (members that left are kept)
    samples: int = 0
    io_read_bytes: int | None = None  # the group's storage I/O as last read
    io_write_bytes: int | None = None

    def view(self) -> dict[str, float | int]:
        """The JSON shape shown beside a task (cpu in cores, memory in bytes)."""
        return {
            "cpu_cores": round(self.cpu_cores, 3),
            "memory_bytes": self.rss_bytes,
            "processes": self.processes,
            "peak_cpu_cores": round(self.peak_cpu_cores, 3),
            "peak_memory_bytes": self.peak_rss_bytes,
            "cpu_seconds": round(self.cpu_seconds, 3),
            "samples": self.samples,
            **_io(self),
        }


def _io(usage: TaskUsage) -> dict[str, int]:
    """The I/O figures once they have been read (absent before)."""
    if usage.io_read_bytes is None or usage.io_write_bytes is None:
        return {}
    return {"io_read_bytes": usage.io_read_bytes, "io_write_bytes": usage.io_write_bytes}


def advance(usage: TaskUsage, group: GroupUsage, now: float) -> TaskUsage:
    """Fold one scan of the task's group into its usage (in place; returns it).

    The cpu rate is the growth of the group's cpu time over the time between samples; a drop
    (a member exited without being reaped inside the group) counts as no growth, never as
    negative use.
    """
    if usage.samples:
        elapsed = now - usage.sampled
        grown = max(0, group.cpu_ticks - usage.cpu_ticks) / CLOCK_TICKS
        usage.cpu_cores = grown / elapsed if elapsed > 0 else 0.0
        usage.cpu_seconds += grown
    else:
        usage.cpu_seconds = group.cpu_ticks / CLOCK_TICKS  # what it used before the first look
    usage.cpu_ticks = group.cpu_ticks
    usage.rss_bytes = group.rss_bytes
    usage.processes = group.processes
    if group.io_read_bytes is not None and group.io_write_bytes is not None:
        usage.io_read_bytes = max(usage.io_read_bytes or 0, group.io_read_bytes)  # never back
        usage.io_write_bytes = max(usage.io_write_bytes or 0, group.io_write_bytes)
    usage.peak_rss_bytes = max(usage.peak_rss_bytes, group.rss_bytes)
    usage.peak_cpu_cores = max(usage.peak_cpu_cores, usage.cpu_cores)
    usage.sampled = now
    usage.samples += 1
    return usage


def summary(usage: TaskUsage) -> dict[str, float | int]:
    """What the task row keeps when the attempt ends: peaks and totals, no momentary values."""
    return {
        "cpu_seconds": round(usage.cpu_seconds, 3),
        "peak_cpu_cores": round(usage.peak_cpu_cores, 3),
        "peak_memory_bytes": usage.peak_rss_bytes,
        "samples": usage.samples,
        "sampled_s": round(max(0.0, usage.sampled - usage.started), 3),
        **_io(usage),
    }


def grown_limit(limit: int, grow: float, cap: int | None, capacity: int) -> int:
    """The memory limit of the next attempt after a stop for memory (`retries.on_oom`).

    `limit` times `grow`, at most `cap` (its `max`) and the memory pool's `capacity` (a
    larger request could never start), and never below `limit`.
    """
    grown = math.ceil(limit * grow)
    if cap is not None:
        grown = min(grown, cap)
    return max(limit, min(grown, capacity))


def over_limit(rss_bytes: int, limit_bytes: int | None) -> bool:
    """Whether a group's resident memory is beyond the task's declared `memory` limit."""
    return limit_bytes is not None and limit_bytes > 0 and rss_bytes > limit_bytes
