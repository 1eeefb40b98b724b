"""Scheduling benchmarks (issue 9) on the embedded SQLite store, every transition durable.

    python bench/scheduling_bench.py                   # both, a table, JSON in bench/results/
    python bench/scheduling_bench.py latency --waiting 2000 --measured 500   # a quicker look

`latency`: task ready → started with a free slot while 10,000 tasks wait.  The engine has
`--slots` (4) slots, held by gate tasks until two runs of `foreach` instances (`--waiting` +
`--measured` tasks in all) are queued behind them; then the gates open.  Each body records
when it runs (an async function: no thread hop), so the k-th start after the first `slots`
takes the slot the (k - slots)-th body left: their difference is the whole cycle a free slot
costs (the end committed, the next task chosen from the ready queue, its start committed, its
body called) — an upper bound of "ready → started".  Only the first `--measured` starts
count, so at least `--waiting` tasks wait throughout; the runs are cancelled then.  Target:
p99 <= 5 ms (requirement < 50 ms).

`concurrency`: `--runs` (1,000) runs of a workflow of `--per-run` (10) `sleep` tasks of
`--sleep` seconds (5), submitted at once with no slot limit: 10,000 sleeping tasks and 1,000
active runs at the same time.  Reports the wall time from the first submit to the last run
finished (ideal: `--sleep`), the most tasks seen running and runs seen active at once
(sampled every 50 ms), and the process's peak RSS.  Requirement: 1,000 tasks and 100 runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
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

RESULTS = HERE / "results"


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def _engine(max_parallel: int) -> tuple[Engine, Any, Path]:
    home = Path(tempfile.mkdtemp(prefix="basir-sched-bench-"))
    settings = Settings(home=home, max_parallel=max_parallel)
    store = open_store(settings.db_url)
    await store.open()
    engine = Engine(store, settings, workdir=HERE)
    await engine.start(resume=False)
    return engine, store, home


async def latency(waiting: int, measured: int, slots: int) -> dict[str, Any]:
    """p50/p99 of a free slot's cycle while `waiting` tasks wait (see the module)."""
    engine, store, _home = await _engine(slots)
    per_run = (waiting + measured + slots + 1) // 2
    backlog = {"id": "t", "python": "funcs:stamp", "foreach": f"${{{{ range({per_run}) }}}}"}
    spec = {"name": "backlog", "tasks": [backlog]}
    gate = {"id": "g", "python": "funcs:gate", "foreach": f"${{{{ range({slots}) }}}}"}
    gates = {"name": "gates", "tasks": [gate]}
    version, _created = await apply_workflow(store, WorkflowSpec.model_validate(spec))
    gate_version, _created = await apply_workflow(store, WorkflowSpec.model_validate(gates))
    freeze_long_lived()
    funcs.MARKS.clear()
    funcs.GATE = asyncio.Event()
    try:
        # The gates hold every slot until both runs' tasks are queued behind them.
        gate_run = await engine.submit(gate_version)
        runs = [await engine.submit(version) for _ in range(2)]
        deadline = time.monotonic() + 300
        while len(engine.flow.ready) < 2 * per_run and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        funcs.GATE.set()
        await engine.wait(gate_run.id)
        while len(funcs.MARKS) < measured + slots and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        marks = sorted(funcs.MARKS[: measured + slots])
        for run in runs:
            await engine.cancel_run(run.id)
            await engine.wait(run.id)
    finally:
        await engine.stop()
        await store.close()
    cycles = [(marks[k] - marks[k - slots]) * 1000 for k in range(slots, len(marks))]
    return {
        "bench": "latency",
        "slots": slots,
        "tasks": 2 * per_run,
        "waiting_at_least": 2 * per_run - measured - slots,
        "measured": len(cycles),
        "p50_ms": round(statistics.median(cycles), 3),
        "p99_ms": round(_percentile(cycles, 0.99), 3),
        "max_ms": round(max(cycles), 3),
    }


async def concurrency(runs: int, per_run: int, sleep_s: float) -> dict[str, Any]:
    """Wall time and RSS of `runs` × `per_run` concurrent sleep tasks (see the module)."""
    engine, store, _home = await _engine(100_000)
    sleepers = [
        {"id": f"s{i}", "uses": "sleep", "with": {"seconds": sleep_s}} for i in range(per_run)
    ]
    spec = {"name": "sleepers", "tasks": sleepers}
    version, _created = await apply_workflow(store, WorkflowSpec.model_validate(spec))
    freeze_long_lived()
    peak = {"tasks": 0, "runs": 0}
    done = asyncio.Event()

    async def sample() -> None:
        while not done.is_set():
            peak["tasks"] = max(peak["tasks"], engine.flow.slots_used)
            peak["runs"] = max(peak["runs"], len(engine.flow.runs))
            await asyncio.sleep(0.05)

    sampler = asyncio.create_task(sample())
    try:
        started = time.perf_counter()
        submitted = await asyncio.gather(*(engine.submit(version) for _ in range(runs)))
        submit_s = time.perf_counter() - started
        finals = await asyncio.gather(*(engine.wait(r.id) for r in submitted))
        wall_s = time.perf_counter() - started
    finally:
        done.set()
        await sampler
        await engine.stop()
        await store.close()
    return {
        "bench": "concurrency",
        "runs": runs,
        "tasks": runs * per_run,
        "sleep_s": sleep_s,
        "succeeded": sum(f.status == "succeeded" for f in finals),
        "submit_s": round(submit_s, 3),
        "wall_s": round(wall_s, 3),
        "overhead_s": round(wall_s - sleep_s, 3),
        "peak_running_tasks": peak["tasks"],
        "peak_active_runs": peak["runs"],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    """Run the chosen benches; print a table, write the JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("benches", nargs="*", default=["latency", "concurrency"])
    parser.add_argument("--waiting", type=int, default=10_000)
    parser.add_argument("--measured", type=int, default=2_000)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--runs", type=int, default=1_000)
    parser.add_argument("--per-run", type=int, default=10)
    parser.add_argument("--sleep", type=float, default=5.0)
    args = parser.parse_args()
    results = []
    for bench in args.benches:
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            if bench == "latency":
                results.append(runner.run(latency(args.waiting, args.measured, args.slots)))
            else:
                results.append(runner.run(concurrency(args.runs, args.per_run, args.sleep)))
    for result in results:
        print(result["bench"])
        for key, value in result.items():
            if key != "bench":
                print(f"  {key:<20}{value}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"scheduling-{time.strftime('%Y%m%d-%H%M%S')}.json"
    machine = {"cpus": os.cpu_count(), "load_average": os.getloadavg()}
    out.write_text(json.dumps({"machine": machine, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
