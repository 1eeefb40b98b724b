"""Python task bodies used by the engine tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

RunFn = Callable[..., Coroutine[Any, Any, dict[str, Any]]]

RUNNING = {"now": 0, "peak": 0}


def add(a: int, b: int) -> int:
    """Return a + b."""
    return a + b


def outputs(**values: Any) -> dict[str, Any]:
    """Return the keyword arguments as outputs."""
    return dict(values)


def flaky(marker: str, failures: int) -> str:
    """Fail the first `failures` calls (counted in a marker file), then succeed."""
    path = Path(marker)
    count = int(path.read_text()) if path.exists() else 0
    path.write_text(str(count + 1))
    if count < failures:
        raise RuntimeError(f"failure {count + 1}")
    return "ok"


async def track(seconds: float) -> int:
    """Count how many of these run at once; return the peak seen so far."""
    RUNNING["now"] += 1
    RUNNING["peak"] = max(RUNNING["peak"], RUNNING["now"])
    try:
        await asyncio.sleep(seconds)
    finally:
        RUNNING["now"] -= 1
    return RUNNING["peak"]


def log_line(message: str) -> str:
    """Log `message` at WARNING through the stdlib (what a task body's library would do)."""
    import logging

    logging.getLogger("task.body").warning(message)
    return message
