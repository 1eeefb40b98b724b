"""What this process may use: cpu cores and memory, cgroup limits included, plus custom pools.

`cpu` defaults to the cores the process may run on (`os.sched_getaffinity`), lowered by the
cgroup v2 quota (`cpu.max`) when one is set; `memory` to the cgroup's `memory.max` (v2) or
`memory.limit_in_bytes` (a cgroup v1 `memory` hierarchy, as in a container on a v1 host), else
the machine's total memory (`os.sysconf`: psutil's figure without its import cost); `disk` to
the free space of the data dir's file system
(counted like memory: what tasks declare, not what they write).  A custom pool from settings
(`BASIR_POOLS`) named `cpu`, `memory` or `disk` overrides the detected value.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from basir.resources.fitting import CPU, DISK, MEMORY, MILLI, to_amount

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _cgroup_dir(root: Path) -> Path:
    """This process's cgroup v2 directory (the root when it cannot be told)."""
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            if line.startswith("0::"):
                return root / line[3:].lstrip("/")
    except OSError:
        pass
    return root


def _v1_memory_dir(root: Path) -> Path | None:
    """This process's cgroup in a cgroup v1 `memory` hierarchy mounted at `root/memory`."""
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _number, controllers, path = line.split(":", 2)
            if "memory" in controllers.split(","):
                return root / "memory" / path.lstrip("/")
    except (OSError, ValueError):
        pass
    return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def cpu_millicores(cgroup: Path | None = None) -> int:
    """Cores this process may use, in millicores: affinity, capped by cgroup `cpu.max`.

    `cgroup` is the cgroup v2 directory to read (default: this process's own).
    """
    try:
        cores = float(len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        cores = float(os.cpu_count() or 1)
    limit = _read((cgroup or _cgroup_dir(CGROUP_ROOT)) / "cpu.max")
    if limit:
        quota, _sep, period = limit.partition(" ")
        if quota != "max" and quota.isdigit() and period.isdigit() and int(period) > 0:
            cores = min(cores, int(quota) / int(period))
    return max(1, math.floor(cores * MILLI))


def memory_bytes(cgroup: Path | None = None) -> int:
    """Memory this process may use: its cgroup's limit when set, else the machine's total.

    `cgroup`: the directory to read both files from (default: this process's own cgroup v2
    directory for `memory.max`, and its cgroup v1 `memory` one for `memory.limit_in_bytes`).
    """
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    v2 = cgroup or _cgroup_dir(CGROUP_ROOT)
    v1 = cgroup or _v1_memory_dir(CGROUP_ROOT)
    limits = [_read(v2 / "memory.max"), _read(v1 / "memory.limit_in_bytes") if v1 else None]
    return min([total, *(int(limit) for limit in limits if limit and limit.isdigit())])


def disk_free_bytes(data_dir: Path) -> int:
    """Free space of the file system holding `data_dir` (its nearest existing parent)."""
    path = data_dir
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return int(shutil.disk_usage(path).free)
    except OSError:
        return 0


def pool_capacities(
    custom: Mapping[str, float], cgroup: Path | None = None, data_dir: Path | None = None
) -> dict[str, int]:
    """Every pool with its capacity as a whole amount: detected cpu, memory, disk, then `custom`.

    `custom` is `Settings.pools` (or an engine's live capacities, `Engine.pool_settings`); an
    entry named `cpu` is in cores, `memory` and `disk` in bytes, any other in slots.  `disk`
    is the free space of `data_dir` (`BASIR_HOME`) when given, or comes from `custom`.
    """
    capacity = {CPU: cpu_millicores(cgroup), MEMORY: memory_bytes(cgroup)}
    if data_dir is not None:
        capacity[DISK] = disk_free_bytes(data_dir)
    for name, value in custom.items():
        capacity[name] = to_amount(name, value)
    return capacity
