"""The end of a task's log file, read off the event loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

LOG_TAIL_BYTES = 64 * 1024


def log_file(logs_dir: Path, run_id: str, task_id: str) -> Path | None:
    """`logs_dir/<run>/<task>.log`, or None if the ids would leave the logs folder."""
    base = logs_dir.resolve()
    path = (base / run_id / f"{task_id}.log").resolve()
    return path if path.is_relative_to(base) else None


def _tail(path: Path, limit: int) -> tuple[str, bool]:
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - limit))
            data = handle.read(limit)
    except FileNotFoundError:
        return "", False
    return data.decode("utf-8", errors="replace"), size > limit


async def tail(path: Path, limit: int = LOG_TAIL_BYTES) -> tuple[str, bool]:
    """The last `limit` bytes of a log as text, and whether earlier lines were left out."""
    return await asyncio.to_thread(_tail, path, limit)
