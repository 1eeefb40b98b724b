"""What this process may use: cpu cores and memory, cgroup limits included, plus custom pools.

`cpu` defaults to the cores the process may run on (`os.sched_getaffinity`), lowered by the
cgroup v2 quota (`cpu.max`) when one is set — on a cgroup v1 machine, `cpu.cfs_quota_us` /
`cpu.cfs_period_us`; `memory` to the cgroup's `memory.max` (v1: `memory.limit_in_bytes`),
else the machine's total memory (`os.sysconf`: psutil's figure without its import cost); `disk` to
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
PROC_SELF_CGROUP = Path("/proc/self/cgroup")


def _cgroup_dir(root: Path) -> Path:
    """This process's cgroup v2 directory (the root when it cannot be told)."""
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            if line.startswith("0::"):
                return root / line[3:].lstrip("/")
    except OSError:
        pass
    return root


def _v1_read(controller: str, name: str, root: Path, proc: Path) -> str | None:
    """File `name` of this process's cgroup v1 `controller` (`memory`, `cpu`), if any.

    `/proc/self/cgroup` names the path in each hierarchy (`4:memory:/docker/abc`,
    `2:cpu,cpuacct:/docker/abc`); inside a container the hierarchy is often mounted at that
    path's end, so the mount's own root is tried after the full path.
    """
    try:
        lines = proc.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _id, _sep, rest = line.partition(":")
        controllers, _sep, path = rest.partition(":")
        if controller not in controllers.split(","):
            continue
        for mount in (root / controllers, root / controller):
            for folder in (mount / path.lstrip("/"), mount):
                value = _read(folder / name)
                if value is not None:
                    return value
    return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def cpu_millicores(
    cgroup: Path | None = None, *, v1_root: Path = CGROUP_ROOT, proc: Path = PROC_SELF_CGROUP
) -> int:
    """Cores this process may use, in millicores: affinity, capped by cgroup `cpu.max`.

    `cgroup` is the cgroup v2 directory to read (default: this process's own); without a
    `cpu.max` there, the cgroup v1 quota under `v1_root` (`-1`: none).
    """
    try:
        cores = float(len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        cores = float(os.cpu_count() or 1)
    limit = _read((cgroup or _cgroup_dir(CGROUP_ROOT)) / "cpu.max")
    if limit is None:
        quota_v1 = _v1_read("cpu", "cpu.cfs_quota_us", v1_root, proc)
        period_v1 = _v1_read("cpu", "cpu.cfs_period_us", v1_root, proc)
        limit = f"{quota_v1} {period_v1}" if quota_v1 and period_v1 else None
    if limit:
        quota, _sep, period = limit.partition(" ")
        if quota != "max" and quota.isdigit() and period.isdigit() and int(period) > 0:
            cores = min(cores, int(quota) / int(period))
    return max(1, math.floor(cores * MILLI))


def memory_bytes(
    cgroup: Path | None = None, *, v1_root: Path = CGROUP_ROOT, proc: Path = PROC_SELF_CGROUP
) -> int:
    """Memory this process may use: cgroup `memory.max` (v1: `memory.limit_in_bytes`) when
    set, else the machine's total."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    limit = _read((cgroup or _cgroup_dir(CGROUP_ROOT)) / "memory.max")
    if limit is None:
        limit = _v1_read("memory", "memory.limit_in_bytes", v1_root, proc)
    if limit and limit.isdigit():
        return min(total, int(limit))
    return total


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
