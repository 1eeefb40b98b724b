"""Queues and throttling benchmark (issue 9): what queue, key and rate limits cost per start.

    python bench/queues_bench.py                 # 5,000 tasks per workload
    python bench/queues_bench.py --tasks 1000    # a quicker look

One engine on the embedded SQLite store in a temporary directory runs one run of N `noop`
foreach instances per workload: `free` (no limits), `capped` (the run's `concurrency: 64`, the
baseline of the next one), `queue` (all in a 64-slot queue), `keys`
(a 64-slot queue and 100 concurrency-key values, one holder each) and `rate` (a queue limited
to 2,000 starts a second).  Reported: wall time, tasks per second, and for `rate` the achieved
start rate (it must not exceed the limit by more than the bucket's burst).  JSON in
bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from basir.config import Settings
from basir.coordinator.workflows import apply_workflow
from basir.engine.runtime import Engine
from basir.spec.models import WorkflowSpec
from basir.store.sqlite import SqliteStore

HERE = Path(__file__).resolve().parent
RATE_PER_S = 2000
WORKLOADS: dict[str, dict[str, Any]] = {
    "free": {},
    "capped": {},  # the run's own `concurrency: 64`: the baseline of `queue`
    "queue": {"queue": "wide"},
    "keys": {"queue": "wide", "concurrency_key": "k${{ item % 100 }}"},
    "rate": {"queue": "paced"},
}


async def one(name: str, extra: dict[str, Any], tasks: int, home: Path) -> dict[str, Any]:
    settings = Settings(home=home, shutdown_grace_s=0.0, queues=f"wide=64,paced=@{RATE_PER_S}/s")
    store = SqliteStore(f"sqlite:///{home / 'basir.db'}")
    await store.open()
    engine = Engine(store, settings, workdir=home)
    await engine.start(resume=False)
    try:
        task = {"id": "t", "uses": "noop", "foreach": list(range(tasks)), **extra}
        document: dict[str, Any] = {"name": f"bench-{name}", "tasks": [task]}
        if name == "capped":
            document["concurrency"] = 64
        version, _ = await apply_workflow(store, WorkflowSpec.model_validate(document))
        began = time.perf_counter()
        run = await engine.submit(version)
        final = await engine.wait(run.id)
        wall = time.perf_counter() - began
        assert final.status == "succeeded", final
        starts = sorted(r.started_at or 0.0 for r in await store.get_tasks(run.id) if r.parent_id)
    finally:
        await engine.stop(grace_s=0)
        await store.close()
    span = starts[-1] - starts[0] if len(starts) > 1 else 0.0
    return {
        "workload": name,
        "tasks": tasks,
        "wall_s": round(wall, 3),
        "tasks_per_s": round(tasks / wall, 1),
        "start_rate_per_s": round((len(starts) - 1) / span, 1) if span > 0 else None,
    }


async def main(tasks: int) -> list[dict[str, Any]]:
    results = []
    for name, extra in WORKLOADS.items():
        with tempfile.TemporaryDirectory() as tmp:
            results.append(await one(name, extra, tasks, Path(tmp)))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=5000)
    args = parser.parse_args()
    rows = asyncio.run(main(args.tasks))
    print(f"{'workload':<8} {'tasks':>6} {'wall s':>8} {'tasks/s':>9} {'starts/s':>9}")
    for r in rows:
        rate = "" if r["start_rate_per_s"] is None else f"{r['start_rate_per_s']:.0f}"
        line = f"{r['workload']:<8} {r['tasks']:>6} {r['wall_s']:>8.3f} {r['tasks_per_s']:>9.0f}"
        print(f"{line} {rate:>9}")
    result = {"bench": "queues", "rate_limit_per_s": RATE_PER_S, "results": rows}
    out = HERE / "results" / f"queues-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {out}")
