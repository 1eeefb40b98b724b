"""Benchmarks of DAG shapes at the task limit: a 10,000-task chain and a 10,000-wide fan.

    python bench/shapes_bench.py              # both shapes, a table, JSON in bench/results/
    python bench/shapes_bench.py chain --json  # one JSON line

Each shape runs in a fresh process (so its peak RSS is its own) on the embedded SQLite store,
every transition durable, `noop` bodies.  Wall time is submit → run finished, the median of
`--runs` runs after a warm-up; peak RSS is the process's high-water mark, and `rss_per_task_kb`
its growth over the engine's set-up divided by the task count.  Targets (issue 7): fan-out +
fan-in ≤ 2.5 s and ≤ 150 KB per task; chain ≤ 6 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from basir.cli.common import event_loop_factory, freeze_long_lived  # noqa: E402
from basir.config import Settings  # noqa: E402
from basir.coordinator.workflows import apply_workflow  # noqa: E402
from basir.engine.runtime import Engine  # noqa: E402
from basir.spec.models import MAX_TASKS, WorkflowSpec  # noqa: E402
from basir.store.factory import open_store  # noqa: E402

SHAPES = ("chain", "fan")
TARGET_S = {"chain": 6.0, "fan": 2.5}


def spec_for(shape: str, n: int) -> dict[str, Any]:
    """`chain`: t0 → … → t{n-1}.  `fan`: root → n-2 tasks → join (n tasks in all)."""
    if shape == "chain":
        tasks: list[dict[str, Any]] = [{"id": "t0", "uses": "noop"}]
        tasks += [{"id": f"t{i}", "needs": [f"t{i - 1}"], "uses": "noop"} for i in range(1, n)]
        return {"name": "bench-chain", "tasks": tasks}
    middle = [{"id": f"m{i}", "needs": ["root"], "uses": "noop"} for i in range(n - 2)]
    join = {"id": "join", "needs": [t["id"] for t in middle], "uses": "noop"}
    return {"name": "bench-fan", "tasks": [{"id": "root", "uses": "noop"}, *middle, join]}


def peak_rss_kb() -> int:
    """This process's peak resident set size so far, in KB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


async def measure(shape: str, n: int, runs: int) -> dict[str, Any]:
    """Set up an engine on a fresh SQLite store, then time a warm-up and `runs` runs."""
    home = Path(tempfile.mkdtemp(prefix="basir-shapes-"))
    settings = Settings(home=home, max_parallel=100_000)
    store = open_store(settings.db_url)
    await store.open()
    engine = Engine(store, settings, workdir=HERE)
    await engine.start(resume=False)
    version, _created = await apply_workflow(store, WorkflowSpec.model_validate(spec_for(shape, n)))
    freeze_long_lived()
    baseline_kb = peak_rss_kb()
    walls: list[float] = []
    try:
        for index in range(runs + 1):
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
    peak_kb = peak_rss_kb()
    median = statistics.median(walls)
    return {
        "peer": "basir",
        "variant": "embedded sqlite, durable",
        "workload": shape,
        "n": n,
        "runs": runs,
        "wall_s": round(median, 4),
        "wall_min_s": round(min(walls), 4),
        "wall_max_s": round(max(walls), 4),
        "target_s": TARGET_S[shape],
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "rss_per_task_kb": round((peak_kb - baseline_kb) / n, 1),
    }


def in_fresh_process(shape: str, n: int, runs: int) -> dict[str, Any]:
    """Measure one shape in a new interpreter, so peak RSS is that shape's alone."""
    done = subprocess.run(
        [sys.executable, __file__, shape, "--n", str(n), "--runs", str(runs), "--json", "--here"],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    """Run the chosen shapes; print a table or one JSON line each."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("shapes", nargs="*", default=list(SHAPES), help="chain and/or fan")
    parser.add_argument("--n", type=int, default=MAX_TASKS)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="one JSON line per shape")
    parser.add_argument("--here", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    unknown = set(args.shapes) - set(SHAPES)
    if unknown:
        parser.error(f"unknown shapes: {', '.join(sorted(unknown))} (choose from chain, fan)")
    results = []
    for shape in args.shapes:
        if args.here:
            with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
                result = runner.run(measure(shape, args.n, args.runs))
        else:
            result = in_fresh_process(shape, args.n, args.runs)
        results.append(result)
        if args.json:
            print(json.dumps(result), flush=True)
    if args.json:
        return
    print(f"{'shape':<7}{'n':>7}{'wall_s':>9}{'target':>8}{'peak MB':>9}{'KB/task':>9}")
    for r in results:
        print(
            f"{r['workload']:<7}{r['n']:>7}{r['wall_s']:>9.3f}{r['target_s']:>8.1f}"
            f"{r['peak_rss_mb']:>9.1f}{r['rss_per_task_kb']:>9.1f}"
        )
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    path = out / f"shapes-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps({"results": results}, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
