"""Task bodies of the benchmark workloads: the same trivial functions the peers run."""

from __future__ import annotations

import asyncio
import time
from typing import Any

MARKS: list[float] = []


def noop() -> int:
    """W1: a no-op returning 1."""
    return 1


def total(items: list[dict[str, Any]]) -> int:
    """W1 fan-in: sum the outputs of every instance."""
    return sum(int(item.get("result", 0)) for item in items)


def inc(value: int) -> int:
    """W2: the previous output plus one."""
    return int(value) + 1


def sleep1() -> int:
    """W3: block a thread for one second, like the peers' `time.sleep(1)`."""
    time.sleep(1.0)
    return 1


def mark_start() -> float:
    """W4: record when the task body starts (wall clock)."""
    now = time.time()
    MARKS.append(now)
    return now


async def stamp() -> float:
    """Scheduling latency: record when the body runs (on the event loop, no thread hop)."""
    now = time.perf_counter()
    MARKS.append(now)
    return now


GATE: asyncio.Event | None = None


async def gate() -> int:
    """Scheduling latency: hold a slot until the benchmark opens the gate."""
    assert GATE is not None
    await GATE.wait()
    return 1
