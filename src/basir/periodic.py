"""`Periodic`: one background task calling an async function every so often, until stopped.

The engine's sweeper and usage sampler, the metric history and the task-log retention all
work this way: a failed call is logged and the next one tries again, an interval of 0 (or
less) means never, and stopping cancels the task and waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable


class Periodic:
    """Calls `work` every `interval_s` (after it, or first at once with `first_now`)."""

    def __init__(
        self,
        work: Callable[[], Awaitable[object]],
        interval_s: float,
        *,
        name: str,
        log: logging.Logger,
        failure: str,
        first_now: bool = False,
    ) -> None:
        self.work, self.interval_s, self.name = work, interval_s, name
        self.log, self.failure, self.first_now = log, failure, first_now
        self._task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        if not self.first_now:
            await asyncio.sleep(self.interval_s)
        while True:
            try:
                await self.work()
            except Exception:  # a failed call is skipped; the next one tries again
                self.log.exception(self.failure)
            await asyncio.sleep(self.interval_s)

    def start(self) -> None:
        """Begin calling (idempotent; an interval ≤ 0 never calls)."""
        if self._task is None and self.interval_s > 0:
            self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        """Stop calling; a call under way is cancelled."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
