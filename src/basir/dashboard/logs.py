"""The end of a task's log file, read off the event loop."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

LOG_TAIL_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Tail:
    """The end of a log: its text, whether earlier lines were left out, and the byte offset
    after it (where a live panel's stream starts, so nothing is sent twice)."""

    text: str
    cut: bool
    offset: int


def log_file(logs_dir: Path, run_id: str, task_id: str) -> Path | None:
    """`logs_dir/<run>/<task>.log`, or None if the ids would leave the logs folder."""
    base = logs_dir.resolve()
    path = (base / run_id / f"{task_id}.log").resolve()
    return path if path.is_relative_to(base) else None


def _tail(path: Path, limit: int, whole_lines: bool) -> Tail:
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            start = handle.seek(max(0, size - limit))
            data = handle.read(limit)
    except FileNotFoundError:
        return Tail("", False, 0)
    if whole_lines and not data.endswith(b"\n"):
        # A line still being written is left to the stream, which sends it once complete.
        data = data[: data.rfind(b"\n") + 1]
    return Tail(data.decode("utf-8", errors="replace"), start > 0, start + len(data))


async def tail(path: Path, limit: int = LOG_TAIL_BYTES, *, whole_lines: bool = False) -> Tail:
    """The last `limit` bytes of a log; with `whole_lines`, up to its last complete line."""
    return await asyncio.to_thread(_tail, path, limit, whole_lines)
