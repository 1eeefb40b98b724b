"""What a kernel memory limit costs per attempt (`executors.memory`, issue 10).

    python bench/memory_limit_bench.py              # a table, JSON in bench/results/
    python bench/memory_limit_bench.py --calls 20   # a quicker look

(a) shell task: `true` through the shell executor, without a limit, with `RLIMIT_AS`
    (one `prlimit` on the process at its gate) and, where this machine gives a cgroup for it
    (`executors.memory.cgroup_root`), with a cgroup per attempt (made, entered, removed);
(b) isolated python task: a trivial function through the python executor with
    `isolate: true`, the same three ways (without a limit the warm worker is reused; a worker
    that ran a limited call is not: a new one per call).

Wall time per call (mean, p95) and the CPU time of this process and its children per call;
the load average is recorded since wall time is noisy on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from basir.executors.base import TaskContext  # noqa: E402
from basir.executors.memory import MemoryLimit, Mode, cgroup_root  # noqa: E402
from basir.executors.python import PythonExecutor  # noqa: E402
from basir.executors.shell import ShellExecutor  # noqa: E402

LIMIT = 512 << 20


def cpu_seconds() -> float:
    """CPU time of this process and its reaped children so far."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def context(root: Path, n: int, limit: MemoryLimit | None) -> TaskContext:
    return TaskContext(
        run_id="bench",
        task_id=f"t{n}",
        attempt=1,
        attempt_id=f"a{n}",
        workflow="bench",
        workdir=root,
        log_path=root / f"t{n}.log",
        memory_limit=limit,
    )


CASE = {None: "no limit", "rlimit": "RLIMIT_AS", "cgroup": "cgroup"}


async def measure(kind: str, mode: Mode | None, calls: int, root: Path) -> dict[str, Any]:
    cgroup = cgroup_root() if mode == "cgroup" else None
    limit = MemoryLimit(LIMIT, mode, str(cgroup) if cgroup else None) if mode else None
    shell = ShellExecutor()
    python = PythonExecutor()
    body: dict[str, Any] = (
        {"run": "true"} if kind == "shell" else {"python": "funcs:noop", "isolate": True}
    )
    executor = shell if kind == "shell" else python
    await executor.execute(body, context(root, -1, limit))  # warm up (worker, imports)
    walls: list[float] = []
    cpu0 = cpu_seconds()
    for n in range(calls):
        start = time.perf_counter()
        await executor.execute(body, context(root, n, limit))
        walls.append(time.perf_counter() - start)
    cpu = cpu_seconds() - cpu0
    python.close()
    walls.sort()
    return {
        "case": f"{kind} {CASE[mode]}",
        "calls": calls,
        "wall_mean_ms": round(sum(walls) / len(walls) * 1000, 2),
        "wall_p95_ms": round(walls[int(0.95 * (len(walls) - 1))] * 1000, 2),
        "cpu_ms_per_call": round(cpu / calls * 1000, 2),
    }


async def main(calls: int) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="basir-bench-mem-") as tmp:
        modes: list[Mode | None] = [None, "rlimit"] + (["cgroup"] if cgroup_root() else [])
        for kind in ("shell", "python"):
            for mode in modes:
                rows.append(await measure(kind, mode, calls, Path(tmp)))
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    options = parser.parse_args()
    load_before = os.getloadavg()
    results = asyncio.run(main(options.calls))
    load_after = os.getloadavg()
    print(f"{'case':<24}{'calls':>6}{'wall mean ms':>14}{'wall p95 ms':>13}{'cpu ms/call':>13}")
    for row in results:
        print(
            f"{row['case']:<24}{row['calls']:>6}{row['wall_mean_ms']:>14}"
            f"{row['wall_p95_ms']:>13}{row['cpu_ms_per_call']:>13}"
        )
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    out = HERE / "results" / "memory_limit.json"
    out.parent.mkdir(exist_ok=True)
    record = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": platform.platform(),
        "load_average": [load_before[0], load_after[0]],
        "results": results,
    }
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {out}")
