"""Per-task usage from `/proc/<pid>/stat`: parsing, one-pass grouping, rates, peaks, limits."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from basir.resources.usage import (
    CLOCK_TICKS,
    PAGE_BYTES,
    GroupUsage,
    TaskUsage,
    advance,
    over_limit,
    parse_io,
    parse_stat,
    scan_groups,
    summary,
)


def stat_line(pid: int, pgid: int, sid: int, ticks: tuple[int, int, int, int], rss_pages: int,
              state: str = "S", comm: str = "sh") -> bytes:  # fmt: skip
    """A `/proc/<pid>/stat` line as Linux writes it (52 fields)."""
    utime, stime, cutime, cstime = ticks
    fields = [str(pid), f"({comm})", state, "1", str(pgid), str(sid), "0", "-1", "4194560",
              "0", "0", "0", "0", str(utime), str(stime), str(cutime), str(cstime), "20", "0",
              "1", "0", "12345", "1000000", str(rss_pages)] + ["0"] * 28  # fmt: skip
    return (" ".join(fields) + "\n").encode()


def test_parse_stat_reads_group_cpu_and_rss_even_with_odd_names() -> None:
    raw = stat_line(42, 40, 40, (10, 5, 3, 2), 100, comm="a) b (c")
    assert parse_stat(raw) == (40, 40, 20, 100 * PAGE_BYTES)
    assert parse_stat(raw, watched={7}) is None  # not a watched group: not parsed further
    assert parse_stat(stat_line(42, 40, 40, (1, 1, 0, 0), 1, state="Z")) is None
    assert parse_stat(b"garbage") is None


def fake_proc(root: Path, lines: dict[int, bytes]) -> str:
    for pid, line in lines.items():
        (root / str(pid)).mkdir()
        (root / str(pid) / "stat").write_bytes(line)
    (root / "self").mkdir()  # not a pid: skipped
    return str(root)


def test_scan_groups_sums_live_members_of_watched_session_groups(tmp_path: Path) -> None:
    proc = fake_proc(
        tmp_path,
        {
            100: stat_line(100, 100, 100, (10, 10, 0, 0), 50),  # a task's leader
            101: stat_line(101, 100, 100, (30, 0, 5, 5), 150),  # its background child
            102: stat_line(102, 100, 100, (99, 0, 0, 0), 999, state="Z"),  # a zombie
            103: stat_line(103, 100, 7, (99, 0, 0, 0), 999),  # same number, other session
            200: stat_line(200, 200, 200, (1, 0, 0, 0), 10),  # not watched
        },
    )
    assert scan_groups({100, 300}, proc) == {100: GroupUsage(2, 60, 200 * PAGE_BYTES)}
    io = b"rchar: 9\nwchar: 9\nsyscr: 1\nsyscw: 1\nread_bytes: {r}\nwrite_bytes: {w}\n"
    (tmp_path / "100" / "io").write_bytes(io.replace(b"{r}", b"4096").replace(b"{w}", b"8192"))
    (tmp_path / "101" / "io").write_bytes(io.replace(b"{r}", b"1").replace(b"{w}", b"2"))
    assert scan_groups({100}, proc, with_io=True) == {
        100: GroupUsage(2, 60, 200 * PAGE_BYTES, io_read_bytes=4097, io_write_bytes=8194)
    }
    assert parse_io(b"rchar: 1\n") is None
    assert scan_groups(set(), proc) == {}
    assert scan_groups({100}, str(tmp_path / "missing")) == {}


def test_scan_groups_sees_this_machine(tmp_path: Path) -> None:
    """On the real /proc: a session leader we start is found with its memory."""
    import subprocess

    child = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        found = scan_groups({child.pid})
        for _ in range(200):  # until its exec has completed (no memory of its own before)
            if found[child.pid].rss_bytes > 0:
                break
            time.sleep(0.01)
            found = scan_groups({child.pid})
        assert found[child.pid].processes == 1
        assert found[child.pid].rss_bytes > 0
    finally:
        child.kill()
        child.wait()
    assert os.getpid() not in scan_groups({os.getpid()}) or os.getsid(0) == os.getpid()


def test_advance_turns_cpu_time_into_cores_and_keeps_peaks() -> None:
    usage = TaskUsage(pgid=5, started=100.0)
    advance(usage, GroupUsage(1, 2 * CLOCK_TICKS, 10 << 20), 100.0)
    assert usage.cpu_cores == 0 and usage.cpu_seconds == 2.0  # what it used before we looked
    advance(usage, GroupUsage(2, 4 * CLOCK_TICKS, 30 << 20), 102.0)  # 2 s of cpu in 2 s
    assert usage.cpu_cores == pytest.approx(1.0)
    advance(usage, GroupUsage(1, 3 * CLOCK_TICKS, 20 << 20), 103.0)  # a member left: no growth
    assert usage.cpu_cores == 0
    assert usage.cpu_seconds == pytest.approx(4.0)
    assert (usage.rss_bytes, usage.peak_rss_bytes, usage.peak_cpu_cores) == (
        20 << 20,
        30 << 20,
        1.0,
    )
    assert summary(usage) == {
        "cpu_seconds": 4.0,
        "peak_cpu_cores": 1.0,
        "peak_memory_bytes": 30 << 20,
        "samples": 3,
        "sampled_s": 3.0,
    }
    assert usage.view()["processes"] == 1


def test_over_limit() -> None:
    assert over_limit(513 << 20, 512 << 20)
    assert not over_limit(512 << 20, 512 << 20)
    assert not over_limit(10 << 30, None)


def test_grown_limit_is_capped_by_max_and_capacity() -> None:
    from basir.resources.usage import grown_limit

    mi = 1 << 20
    assert grown_limit(512 * mi, 1.5, None, 8192 * mi) == 768 * mi
    assert grown_limit(512 * mi, 4, 1024 * mi, 8192 * mi) == 1024 * mi
    assert grown_limit(512 * mi, 4, None, 1000 * mi) == 1000 * mi  # a request that can start
    assert grown_limit(512 * mi, 2, 256 * mi, 8192 * mi) == 512 * mi  # never shrinks
