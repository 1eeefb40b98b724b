"""Timers of the engine: retry backoff, hold release, attempt timeouts, run deadlines.

One handle per key.  Keys are `(run_id, name)`: `retry:<task>` for a retry, `hold:<task>` for
a release, `timeout:<task>` for a running attempt's timeout (`engine.watchdog`), `deadline`
for the run (prefixed, so a task named `deadline` cannot collide with them).  A timer's action
runs through `guard`, so an error in it fails that run (`engine.error`) instead of
disappearing into the event loop's exception handler.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from basir.engine.state import RunState, TaskState

Key = tuple[str, str]
Guard = Callable[[RunState, TaskState | None, Callable[[], None]], None]


def retry_key(run: RunState, task: TaskState) -> Key:
    """The key of a task's retry-backoff timer."""
    return (run.id, f"retry:{task.id}")


class Timers:
    """Armed `call_later` handles by key; re-arming a key replaces its timer."""

    def __init__(self, guard: Guard) -> None:
        self._handles: dict[Key, asyncio.TimerHandle] = {}
        self._guard = guard

    def arm(
        self,
        key: Key,
        delay_s: float,
        run: RunState,
        task: TaskState | None,
        action: Callable[[], None],
    ) -> None:
        """Run `action` after `delay_s` (at least 0) unless cancelled first."""
        self.cancel(key)

        def fire() -> None:
            self._handles.pop(key, None)
            self._guard(run, task, action)

        loop = asyncio.get_running_loop()
        self._handles[key] = loop.call_later(max(0.0, delay_s), fire)

    def armed(self, key: Key) -> bool:
        """True while a timer waits under this key."""
        return key in self._handles

    def cancel(self, key: Key) -> None:
        """Forget the timer of this key, if any."""
        handle = self._handles.pop(key, None)
        if handle is not None:
            handle.cancel()

    def cancel_run(self, run_id: str) -> None:
        """Forget every timer of one run."""
        for key in [key for key in self._handles if key[0] == run_id]:
            self.cancel(key)

    def clear(self) -> None:
        """Forget every timer (the engine stops)."""
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()
