"""Task log retention: the logs of finished runs are kept for a while and within a size cap.

Task logs are folders `logs_dir/<run_id>/`.  Every `SWEEP_EVERY_S` the server measures them
(in a worker thread), asks the pure `folders_to_remove` which go, and deletes those: first
every finished run's folder older than the retention, then, while the rest is above the size
cap, the oldest finished ones.  The logs of a run that is still active are never removed,
whatever their age or size.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from basir.periodic import Periodic
from basir.store.base import Store

log = logging.getLogger("basir.logs")
SWEEP_EVERY_S = 600.0


@dataclass(frozen=True, slots=True)
class LogFolder:
    """One run's log folder: its newest write and its size in bytes."""

    run_id: str
    modified_at: float
    size: int


def folders_to_remove(
    folders: Iterable[LogFolder],
    *,
    now: float,
    keep_s: float,
    max_bytes: int,
    active: frozenset[str],
) -> list[str]:
    """The run ids whose logs go: expired first, then the oldest until under `max_bytes`.

    `keep_s` ≤ 0 keeps logs forever, `max_bytes` ≤ 0 sets no cap; active runs are kept.
    """
    every = list(folders)
    removable = sorted(
        (f for f in every if f.run_id not in active), key=lambda f: (f.modified_at, f.run_id)
    )
    total = sum(f.size for f in every)
    gone: list[str] = []
    for folder in removable:
        expired = keep_s > 0 and now - folder.modified_at > keep_s
        over_cap = max_bytes > 0 and total > max_bytes
        if not (expired or over_cap):
            continue
        gone.append(folder.run_id)
        total -= folder.size
    return gone


def measure(logs_dir: Path) -> list[LogFolder]:
    """Every run folder under `logs_dir` with its newest modification time and total size."""
    folders: list[LogFolder] = []
    with contextlib.suppress(FileNotFoundError), os.scandir(logs_dir) as entries:
        for entry in entries:
            if not entry.is_dir(follow_symlinks=False):
                continue
            newest, size = entry.stat(follow_symlinks=False).st_mtime, 0
            with contextlib.suppress(FileNotFoundError), os.scandir(entry.path) as files:
                for file in files:
                    if file.is_file(follow_symlinks=False):
                        stat = file.stat(follow_symlinks=False)
                        newest, size = max(newest, stat.st_mtime), size + stat.st_size
            folders.append(LogFolder(entry.name, newest, size))
    return folders


def _remove(logs_dir: Path, run_ids: list[str]) -> int:
    """Delete the folders; the bytes freed."""
    freed = 0
    for run_id in run_ids:
        folder = logs_dir / run_id
        with contextlib.suppress(FileNotFoundError):
            freed += sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
            shutil.rmtree(folder)
    return freed


class LogSweeper:
    """Applies the retention to a logs folder now and then, off the event loop."""

    def __init__(
        self,
        store: Store,
        logs_dir: Path,
        *,
        keep_s: float,
        max_bytes: int,
        every_s: float = SWEEP_EVERY_S,
    ) -> None:
        self.store, self.logs_dir = store, logs_dir
        self.keep_s, self.max_bytes, self.every_s = keep_s, max_bytes, every_s
        self._periodic = Periodic(
            self.sweep,
            every_s,
            name="basir-log-retention",
            log=log,
            failure="task log retention failed",
            first_now=True,
        )

    async def sweep(self) -> list[str]:
        """Remove what the retention says now; the run ids whose logs were removed."""
        if self.keep_s <= 0 and self.max_bytes <= 0:
            return []
        folders = await asyncio.to_thread(measure, self.logs_dir)
        active = frozenset(run.id for run in await self.store.active_runs())
        gone = folders_to_remove(
            folders, now=time.time(), keep_s=self.keep_s, max_bytes=self.max_bytes, active=active
        )
        if gone:
            freed = await asyncio.to_thread(_remove, self.logs_dir, gone)
            log.info("removed the task logs of %d runs (%d bytes)", len(gone), freed)
        return gone

    def start(self) -> None:
        """Sweep now and every `every_s` until `stop`."""
        self._periodic.start()

    async def stop(self) -> None:
        """Stop sweeping."""
        await self._periodic.stop()
