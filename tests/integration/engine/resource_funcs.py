"""Python task bodies for the resource admission tests (they run in the engine's loop)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

GATES: dict[str, asyncio.Event] = {}


async def window(seconds: float) -> dict[str, Any]:
    """Hold on for `seconds`; return when it started and ended (monotonic clock)."""
    start = time.monotonic()
    await asyncio.sleep(seconds)
    return {"start": start, "end": time.monotonic()}


async def gate(name: str, fail: bool = False) -> str:
    """Wait until the test opens gate `name`; then fail if asked."""
    await GATES.setdefault(name, asyncio.Event()).wait()
    if fail:
        raise RuntimeError("failed on purpose")
    return name


def hog(mib: int) -> dict[str, int]:
    """Allocate and touch `mib` MiB (an isolated task over or within its memory limit)."""
    block = bytearray(mib << 20)
    return {"bytes": len(block)}
