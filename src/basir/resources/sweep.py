"""What the cleanup sweeper looks for: pure decisions plus the file-system look-ups they need.

Three kinds of leak outlive a task when something goes wrong (an engine killed mid-attempt, a
bug in a release path, a process that survived its group's signals):

- **held amounts** — pool amounts held for a task with no live attempt (`stale_holds`);
- **private directories** — `basir-out-<pid>-…` / `basir-tmp-<pid>-…` under the temp dir
  whose owner process is gone (`orphan_dirs`): a live owner removes its own, so only a dead
  owner's are touched, and only once they are older than `MIN_DIR_AGE_S`;
- **process groups** — the group of an ended attempt that still runs processes of that
  attempt (checked by `executors.processes.is_leftover`, which never mistakes a reused pid).
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

MIN_DIR_AGE_S = 60.0
_DIR = re.compile(r"^basir-(?:out|tmp)-(\d+)-")

Key = tuple[str, str]


def stale_holds(held: Mapping[Key, object], live: Collection[Key]) -> list[Key]:
    """Keys holding pool amounts without a live attempt (`live`: running or about to start)."""
    return sorted(key for key in held if key not in live)


def owner_pid(name: str) -> int | None:
    """The pid in a private directory's name (`basir-out-1234-abcd`), None for other names."""
    match = _DIR.match(name)
    return int(match.group(1)) if match else None


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (another user's counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True, slots=True)
class DirEntry:
    """A candidate directory: its path, owner pid and age in seconds."""

    path: Path
    pid: int
    age_s: float


def private_dirs(root: Path, now: float) -> list[DirEntry]:
    """Every `basir-out-<pid>-…` / `basir-tmp-<pid>-…` directory directly under `root`."""
    found: list[DirEntry] = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return found
    for entry in entries:
        pid = owner_pid(entry.name)
        if pid is None:
            continue
        try:
            if not entry.is_dir(follow_symlinks=False):
                continue
            age = now - entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        found.append(DirEntry(Path(entry.path), pid, age))
    return found


def orphan_dirs(entries: Iterable[DirEntry], alive: Collection[int]) -> list[Path]:
    """Directories whose owner is not alive and that are old enough not to be just made."""
    return sorted(e.path for e in entries if e.pid not in alive and e.age_s >= MIN_DIR_AGE_S)
