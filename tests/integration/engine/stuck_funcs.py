"""Python task bodies that do not stop when cancelled (for the engine's own timeout timer)."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess

from basir.executors.base import current_task
from basir.executors.processes import start_ticks

STARTED: list[subprocess.Popen[bytes]] = []


async def deaf() -> str:
    """Ignore the first cancellation (as careless task code may); give up on the second.

    The attempt runner's timeout cancels once: without the engine's own timer the attempt
    would wait here for ever.
    """
    with contextlib.suppress(asyncio.CancelledError):  # swallowed on purpose
        await asyncio.Event().wait()
    await asyncio.Event().wait()  # only a second cancellation ends this
    return "unreachable"


async def deaf_with_group() -> str:
    """Start `sleep 60` in its own process group, record it as the attempt's, then be deaf."""
    context = current_task()
    assert context is not None and context.on_spawn is not None
    process = subprocess.Popen(["sleep", "60"], start_new_session=True)
    STARTED.append(process)
    await context.on_spawn(process.pid, start_ticks(process.pid))
    return await deaf()
