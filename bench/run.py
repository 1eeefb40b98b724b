"""Benchmarks W1–W4 on the embedded SQLite store, every transition durable.

    python bench/run.py            # all workloads, a table, JSON in bench/results/
    python bench/run.py W1 --json  # one JSON line with the peers' keys

Same workloads as ../shared/peers-bench (see its README): W1 1,000 no-op tasks + fan-in,
W2 a 200-task chain, W3 500 × sleep 1 s with unbounded concurrency, W4 start latency
(submit → first task body starts), median of 20 in a warm process.  Engine set-up and one
warm-up run happen before timing, as with the peers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import funcs  # noqa: E402
from basir.cli.common import event_loop_factory, freeze_long_lived  # noqa: E402
from basir.config import Settings  # noqa: E402
from basir.coordinator.workflows import apply_workflow  # noqa: E402
from basir.engine.runtime import Engine  # noqa: E402
from basir.spec.models import WorkflowSpec  # noqa: E402
from basir.store.factory import open_store  # noqa: E402

DEFAULT_N = {"W1": 1000, "W2": 200, "W3": 500, "W4": 20}


def spec_for(workload: str, n: int) -> dict[str, Any]:
    """The workflow of a workload, as a spec document."""
    if workload == "W1":
        return {
            "name": "bench-w1",
            "tasks": [
                {"id": "noop", "python": "funcs:noop", "foreach": f"${{{{ range({n}) }}}}"},
                {
                    "id": "total",
                    "needs": ["noop"],
                    "python": "funcs:total",
                    "args": ["${{ tasks.noop.outputs.items }}"],
                },
            ],
        }
    if workload == "W2":
        tasks: list[dict[str, Any]] = [{"id": "t0", "python": "funcs:inc", "args": [0]}]
        for i in range(1, n):
            tasks.append(
                {
                    "id": f"t{i}",
                    "needs": [f"t{i - 1}"],
                    "python": "funcs:inc",
                    "args": [f"${{{{ tasks.t{i - 1}.outputs.result }}}}"],
                }
            )
        return {"name": "bench-w2", "tasks": tasks}
    if workload == "W3":
        return {
            "name": "bench-w3",
            "tasks": [
                {"id": "sleep", "python": "funcs:sleep1", "foreach": f"${{{{ range({n}) }}}}"},
            ],
        }
    return {"name": "bench-w4", "tasks": [{"id": "start", "python": "funcs:mark_start"}]}


def tasks_in(workload: str, n: int) -> int:
    """Task count used for throughput, as in the peers' harness."""
    return {"W1": n + 1, "W2": n, "W3": n, "W4": 1}[workload]


async def measure(workload: str, n: int, runs: int) -> dict[str, Any]:
    """Set up an engine on a fresh SQLite store, warm up once, then time `runs` runs."""
    home = Path(tempfile.mkdtemp(prefix="basir-bench-"))
    settings = Settings(home=home, max_parallel=100_000)
    store = open_store(settings.db_url)
    await store.open()
    engine = Engine(store, settings, workdir=HERE)
    await engine.start(resume=False)
    version, _created = await apply_workflow(
        store, WorkflowSpec.model_validate(spec_for(workload, n))
    )
    freeze_long_lived()  # as `basir run` and `basir server` do
    walls: list[float] = []
    try:
        for index in range(runs + 1):
            if workload == "W4":
                latencies = []
                for _ in range(n):
                    funcs.MARKS.clear()
                    submitted = time.time()
                    run = await engine.submit(version)
                    final = await engine.wait(run.id)
                    assert final.status == "succeeded", final
                    latencies.append(funcs.MARKS[0] - submitted)
                wall = statistics.median(latencies)
            else:
                started = time.perf_counter()
                run = await engine.submit(version)
                final = await engine.wait(run.id)
                wall = time.perf_counter() - started
                assert final.status == "succeeded", final
            if index > 0:  # the first run is the warm-up
                walls.append(wall)
    finally:
        await engine.stop()
        await store.close()
    median = statistics.median(walls)
    count = tasks_in(workload, n)
    result: dict[str, Any] = {
        "peer": "basir",
        "variant": "embedded sqlite, durable",
        "workload": workload,
        "n": n,
        "runs": runs,
        "wall_s": round(median, 6),
        "wall_min_s": round(min(walls), 6),
        "wall_max_s": round(max(walls), 6),
        "tasks_per_s": round(count / median, 1) if workload != "W4" else None,
        "per_task_ms": round(median * 1000 / count, 3),
        "start_latency_ms": round(median * 1000, 3) if workload == "W4" else None,
    }
    return result


def machine() -> dict[str, Any]:
    """Where the numbers came from."""
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }


def main() -> None:
    """Run the chosen workloads; print a table or one JSON line each."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("workloads", nargs="*", default=["W1", "W2", "W3", "W4"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--json", action="store_true", help="one JSON line per workload")
    args = parser.parse_args()
    results = []
    for workload in args.workloads:
        n = args.n or DEFAULT_N[workload]
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            result = runner.run(measure(workload, n, args.runs))
        results.append(result)
        if args.json:
            print(json.dumps(result), flush=True)
    if args.json:
        return
    print(f"{'workload':<9}{'n':>6}{'wall_s':>10}{'tasks/s':>10}{'ms/task':>10}{'start ms':>10}")
    for r in results:
        tps = "" if r["tasks_per_s"] is None else f"{r['tasks_per_s']:.0f}"
        start = "" if r["start_latency_ms"] is None else f"{r['start_latency_ms']:.2f}"
        print(
            f"{r['workload']:<9}{r['n']:>6}{r['wall_s']:>10.3f}{tps:>10}"
            f"{r['per_task_ms']:>10.3f}{start:>10}"
        )
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (out / f"engine-{stamp}.json").write_text(
        json.dumps({"machine": machine(), "results": results}, indent=2)
    )


if __name__ == "__main__":
    main()
