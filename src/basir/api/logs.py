"""Reading task log files: the last N lines, the whole file in chunks, and following growth.

Logs are plain files at `logs_dir/<run_id>/<task_id>.log`, written by the executors.  All
file I/O runs in a worker thread so a slow disk never stalls the event loop.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from basir.events.bus import Subscription

CHUNK_BYTES = 64 * 1024
MAX_TAIL_LINES = 100_000
FOLLOW_POLL_S = 0.2
STATUS_CHECK_EVERY_S = 2.0


def log_path(logs_dir: Path, run_id: str, task_id: str) -> Path | None:
    """The log file of one task, or None if the ids would escape the logs folder."""
    base = logs_dir.resolve()
    path = (base / run_id / f"{task_id}.log").resolve()
    return path if path.is_relative_to(base) else None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def tail_offset(path: Path, lines: int) -> int:
    """The byte offset where the last `lines` lines of the file begin."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return 0
    with handle:
        end = handle.seek(0, os.SEEK_END)
        position = end
        newlines = 0
        # A trailing newline ends the last line; it does not start another one.
        if end > 0:
            handle.seek(end - 1)
            if handle.read(1) == b"\n":
                newlines = -1
        while position > 0:
            step = min(CHUNK_BYTES, position)
            position -= step
            handle.seek(position)
            block = handle.read(step)
            for index in range(len(block) - 1, -1, -1):
                if block[index] == 0x0A:
                    newlines += 1
                    if newlines == lines:
                        return position + index + 1
        return 0


def _read(path: Path, offset: int, limit: int = CHUNK_BYTES) -> bytes:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read(limit)
    except FileNotFoundError:
        return b""


async def start_offset(path: Path, tail: int | None) -> int:
    """Where to start reading: 0, or the start of the last `tail` lines."""
    if tail is None:
        return 0
    if tail == 0:
        return await asyncio.to_thread(_size, path)
    return await asyncio.to_thread(tail_offset, path, tail)


async def read_from(path: Path, offset: int) -> AsyncIterator[bytes]:
    """The file's content from `offset` to its current end, in chunks."""
    while True:
        chunk = await asyncio.to_thread(_read, path, offset)
        if not chunk:
            return
        offset += len(chunk)
        yield chunk


async def follow(
    path: Path,
    offset: int,
    finished: Callable[[], Awaitable[bool]],
    wake: Subscription,
    shutdown: asyncio.Event,
) -> AsyncIterator[bytes]:
    """Yield the file from `offset` on, then new bytes as they come, until the task ends.

    `wake` delivers the task's events (a cue to re-check whether it ended); without one, the
    status is re-checked every few seconds anyway.  Ends early when the server shuts down.
    """
    loop = asyncio.get_running_loop()
    next_check = 0.0
    while not shutdown.is_set():
        async for chunk in read_from(path, offset):
            offset += len(chunk)
            yield chunk
        woken = wake.get_nowait() is not None
        if woken or loop.time() >= next_check:
            next_check = loop.time() + STATUS_CHECK_EVERY_S
            if await finished():
                async for chunk in read_from(path, offset):
                    offset += len(chunk)
                    yield chunk
                return
        try:
            await asyncio.wait_for(wake.get(), FOLLOW_POLL_S)
            next_check = 0.0
        except TimeoutError:
            pass
