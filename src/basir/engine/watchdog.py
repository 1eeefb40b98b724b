"""The engine's own timeout timer: an attempt that outlives its `timeout` is ended by the engine.

The attempt runner bounds every attempt with `asyncio.timeout` (`engine.attempts`): the
executor is cancelled and stops its process group.  That relies on the executor, or the task's
own python code, giving up when cancelled; a coroutine that swallows the cancellation, or an
executor stuck in its cleanup, would hold its slot and its resources for ever.  This timer does
not rely on them: an attempt still running `backstop_s` after its timeout is ended here —
its recorded process group is killed (SIGKILL, and only if it is still that very group:
`executors.processes.is_leftover`), the stuck coroutine is abandoned, and the attempt fails as
a timeout, so the task's retry policy applies as to any failure and its slot and resources are
given back at once.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import TYPE_CHECKING

from basir.engine.attempts import AttemptResult
from basir.engine.state import RunState, TaskState
from basir.executors.processes import is_leftover, signal_group
from basir.i18n.deferred import defer
from basir.states import TaskStatus

if TYPE_CHECKING:
    from basir.engine.flow import Flow

log = logging.getLogger(__name__)

# Past the timeout, how long the executor has to stop by itself (the shell executor's SIGTERM
# grace and drains take about 1.5 s) before the engine steps in.
TIMEOUT_BACKSTOP_S = 15.0


def timeout_key(run: RunState, task: TaskState) -> tuple[str, str]:
    """The key of an attempt's timeout timer."""
    return (run.id, f"timeout:{task.id}")


class Watchdog:
    """Arms one timer per running attempt that has a timeout; fires only on a stuck one."""

    def __init__(self, flow: Flow, backstop_s: float = TIMEOUT_BACKSTOP_S) -> None:
        self.flow = flow
        self.backstop_s = backstop_s

    def arm(self, run: RunState, task: TaskState, attempt: asyncio.Task[None]) -> None:
        """Watch an attempt that just began (nothing to watch without a timeout)."""
        timeout = self.flow.runner.timeout_of(run, task)
        if timeout is None:
            return
        attempt_id = task.attempt_id

        def fire() -> None:
            live = self.flow.attempts.get((run.id, task.id))
            if live is attempt and task.attempt_id == attempt_id and not attempt.done():
                self._overdue(run, task, timeout)

        self.flow.timers.arm(timeout_key(run, task), timeout + self.backstop_s, run, task, fire)

    def disarm(self, run: RunState, task: TaskState) -> None:
        """The attempt has ended by itself."""
        self.flow.timers.cancel(timeout_key(run, task))

    def _overdue(self, run: RunState, task: TaskState, timeout: float) -> None:
        pgid, ticks = task.attempt_pgid, task.attempt_proc_start
        killed = (
            pgid is not None
            and is_leftover(pgid, ticks, task.attempt_id)
            and signal_group(pgid, signal.SIGKILL)
        )
        log.warning(
            "run %s task %s: still running %.1fs after its %ss timeout; ended by the engine%s",
            run.id,
            task.id,
            self.backstop_s,
            timeout,
            f" (process group {pgid} killed)" if killed else "",
        )
        error = defer(
            "timed out after {seconds}s; the attempt did not stop by itself and was ended by"
            " the engine",
            seconds=timeout,
        )
        self.flow.abandon(run, task, AttemptResult(TaskStatus.FAILED, error=error))
