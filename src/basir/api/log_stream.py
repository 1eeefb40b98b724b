"""A task's log as a stream of Server-Sent Event frames, shared by the API and the dashboard.

The API serves it to token holders (`/api/v1/runs/{run}/tasks/{task}/logs/stream`), the
dashboard to the run page's log panel under its session: the same frames, ids and `end`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from basir.api import logs
from basir.api.log_frames import LineFramer, end_frame
from basir.engine.runtime import Engine
from basir.states import TASK_TERMINAL
from basir.store.records import EventRecord


async def task_status(engine: Engine, run_id: str, task_id: str) -> str | None:
    """The task's status now, or None when the run or the task is gone."""
    for task in await engine.store.get_tasks(run_id):
        if task.task_id == task_id:
            return str(task.status)
    return None


async def log_frames(
    engine: Engine,
    shutdown: asyncio.Event,
    path: Path,
    ids: tuple[str, str],
    offset: int,
    status: str,
) -> AsyncIterator[bytes]:
    """`log` frames from `offset` as whole lines are written, then `end` once the task ended.

    `ids` is (run, task) and `status` the task's status when the stream was asked for: a
    finished task's log is read to its end at once, a live one is followed.  A stream cut by
    the server's shutdown ends without `end`, so the client reconnects and resumes.
    """
    run_id, task_id = ids
    final = [status]

    def accept(event: EventRecord) -> bool:
        return event.run_id == run_id and event.task_id == task_id

    async def finished() -> bool:
        final[0] = await task_status(engine, run_id, task_id) or final[0]
        return final[0] in TASK_TERMINAL

    framer = LineFramer(offset)
    with contextlib.ExitStack() as stack:
        if status in TASK_TERMINAL:
            chunks = logs.read_from(path, offset)
        else:
            wake = stack.enter_context(engine.bus.subscribe(accept))
            chunks = logs.follow(path, offset, finished, wake, shutdown)
        async for chunk in chunks:
            if frame := framer.feed(chunk):
                yield frame
    if frame := framer.flush():
        yield frame
    if final[0] in TASK_TERMINAL:
        yield end_frame(final[0], framer.offset)
