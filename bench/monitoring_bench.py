"""Monitoring benchmark: the cost of the metric history, of reading it, and of the report.

    .venv/bin/python bench/monitoring_bench.py                    # JSON in bench/results/
    .venv/bin/python bench/monitoring_bench.py --runs 10000       # a smaller report store

(a) sampling the metric history with 1,000 running tasks: CPU of the process per sample,
    as a share of one core at one sample every 10 s (target ≤ 3 %);
(b) `GET /api/v1/metrics/query` over a week of per-minute points of one series, through the
    API in-process, with the long-lived objects frozen out of the garbage collector's sight
    as `basir serve` does (target p99 ≤ 50 ms);
(c) the performance report over `--runs` runs of 3 tasks on SQLite (target ≤ 2 s at 100,000).
Not a test: it prints numbers (on a quiet machine) and exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from basir.api.app import create_app
from basir.cli.common import freeze_long_lived
from basir.config import Settings
from basir.coordinator.workflows import apply_workflow
from basir.engine.runtime import Engine
from basir.monitoring.history import HistorySampler
from basir.monitoring.metrics import Metrics
from basir.monitoring.report_source import performance_report
from basir.security.tokens import ensure_admin
from basir.spec.models import WorkflowSpec
from basir.store.base import Store
from basir.store.factory import open_store
from basir.store.records import Batch, MetricPoint, RunInsert, RunRecord, TaskRecord

HERE = Path(__file__).parent
RUNNING_TASKS = 1000
SAMPLE_INTERVAL_S = 10.0
SAMPLES = 30
QUERIES = 200
TARGETS = {"sampling_core_share": 0.03, "query_p99_ms": 50.0, "report_s": 2.0}


async def bench_sampling(tmp: Path) -> dict[str, float]:
    """(a) CPU per sample with 1,000 tasks running (sleeping), over `SAMPLES` samples."""
    store = open_store(f"sqlite:///{tmp / 'a.db'}")
    await store.open()
    metrics = Metrics()
    settings = Settings(home=tmp / "home", max_parallel=RUNNING_TASKS, shutdown_grace_s=0.0)
    engine = Engine(store, settings, workdir=tmp, metrics=metrics)
    await engine.start(resume=False)
    create_app(engine, settings, metrics=metrics)  # binds the engine's state to the gauges
    spec = {
        "name": "sleepers",
        "concurrency": RUNNING_TASKS,
        "tasks": [
            {"id": f"s{i}", "uses": "sleep", "with": {"seconds": 600}} for i in range(RUNNING_TASKS)
        ],
    }
    version, _created = await apply_workflow(store, WorkflowSpec.model_validate(spec))
    await engine.submit(version)
    while engine.flow.slots_used < RUNNING_TASKS:
        await asyncio.sleep(0.05)
    sampler = HistorySampler(metrics, store)
    cpu = []
    for _ in range(SAMPLES):
        began = time.process_time()
        await sampler.sample()
        cpu.append(time.process_time() - began)
    await engine.stop(grace_s=0)
    await store.close()
    per_sample = statistics.median(cpu)
    return {
        "sample_cpu_ms": per_sample * 1000,
        "sampling_core_share": per_sample / SAMPLE_INTERVAL_S,
    }


async def bench_query(tmp: Path, freeze: bool = True) -> dict[str, float]:
    """(b) p50/p99 of `/api/v1/metrics/query` over a week of per-minute points."""
    store = open_store(f"sqlite:///{tmp / 'b.db'}")
    await store.open()
    # The week ends half an hour ahead and the query names its end: on a busy machine the
    # queries may take minutes, and a window starting over 7 days ago reads the hourly rollup.
    now = time.time() + 1800
    start = now - 7 * 86400
    points = [
        MetricPoint("basir_queue_depth", "{}", 60, start + 60 * i, float(i % 50))
        for i in range(7 * 1440)
    ]
    await store.metrics_write(points)
    token = await ensure_admin(store)
    settings = Settings(home=tmp / "home")
    app = create_app(Engine(store, settings), settings)
    if freeze:
        freeze_long_lived()  # as `basir serve` does once its app is made
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {token}"}
    params = {"name": "basir_queue_depth", "from": str(start + 60), "to": str(now), "step": "60s"}
    took, cpu = [], []
    async with httpx.AsyncClient(transport=transport, base_url="http://b", headers=headers) as c:
        for _ in range(QUERIES):
            began, began_cpu = time.perf_counter(), time.process_time()
            response = await c.get("/api/v1/metrics/query", params=params)
            took.append(time.perf_counter() - began)
            cpu.append(time.process_time() - began_cpu)
            assert response.status_code == 200, response.text
    gc.unfreeze()
    await store.close()
    took.sort()
    return {
        "query_points": float(len(response.json()["series"][0]["points"])),
        "query_p50_ms": took[len(took) // 2] * 1000,
        "query_p99_ms": took[int(len(took) * 0.99) - 1] * 1000,
        # CPU of the process (all threads) per query: what a shared machine does not inflate.
        "query_cpu_p50_ms": statistics.median(cpu) * 1000,
    }


async def seed_runs(store: Store, n_runs: int) -> float:
    """`n_runs` finished runs of 20 workflows, 3 tasks each; returns the earliest creation."""
    first = time.time() - 86400
    batch: list[RunInsert] = []
    for i in range(n_runs):
        run_id = f"r{i:07d}"
        status = "failed" if i % 10 == 0 else "succeeded"
        at = first + i * 0.5
        run = RunRecord(
            id=run_id,
            workflow=f"wf{i % 20}",
            version=1,
            status=status,
            created_at=at,
            started_at=at,
            finished_at=at + 5,
            updated_at=at + 5,
        )
        tasks = [
            TaskRecord(
                run_id,
                f"t{j}",
                status if j == 2 else "succeeded",
                attempts=1,
                queued_at=at,
                started_at=at + 0.1,
                finished_at=at + 1 + j,
                error="exit 1" if status == "failed" and j == 2 else None,
            )
            for j in range(3)
        ]
        batch.append(RunInsert(run, tasks))
        if len(batch) == 1000:
            await store.write(Batch(list(batch), []))
            batch.clear()
    if batch:
        await store.write(Batch(batch, []))
    return first


async def bench_report(tmp: Path, n_runs: int) -> dict[str, float]:
    """(c) wall time of the performance report over `n_runs` runs."""
    store = open_store(f"sqlite:///{tmp / 'c.db'}")
    await store.open()
    first = await seed_runs(store, n_runs)
    began, began_cpu = time.perf_counter(), time.process_time()
    report = await performance_report(store, first - 1, time.time())
    took, cpu = time.perf_counter() - began, time.process_time() - began_cpu
    await store.close()
    assert sum(w.runs for w in report.workflows) == n_runs
    return {"report_runs": float(n_runs), "report_s": took, "report_cpu_s": cpu}


def main() -> int:
    """Run the three measurements; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000, help="runs in the report store")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "monitoring_bench.json")
    parser.add_argument(
        "--parts", default="sampling,query,report", help="which of the three to measure"
    )
    parser.add_argument(
        "--no-freeze", action="store_true", help="(b) without freezing the long-lived objects"
    )
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    result: dict[str, object] = {"load_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="basir-monitoring-bench-") as name:
        tmp = Path(name)
        if "sampling" in parts:
            result.update(asyncio.run(bench_sampling(tmp)))
        if "query" in parts:
            result.update(asyncio.run(bench_query(tmp, not args.no_freeze)))
        if "report" in parts:
            result.update(asyncio.run(bench_report(tmp, args.runs)))
    met = {
        key: float(result[key]) <= limit  # type: ignore[arg-type]
        for key, limit in TARGETS.items()
        if key in result
    }
    if args.runs < 100_000:
        met.pop("report_s", None)  # the target is for 100,000 runs
    result["targets_met"] = met
    result["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_1m": os.getloadavg()[0],  # > cpus: other work shared the machine
    }
    for key, value in result.items():
        print(f"{key:>22}: {value}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    # A missed target is reported, not an error: `make bench` runs every benchmark.
    return 0


if __name__ == "__main__":
    sys.exit(main())
