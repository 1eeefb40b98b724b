"""Export benchmark: `GET /api/v1/export/events` of 1,000,000 events, streamed.

    .venv/bin/python bench/export_bench.py                   # JSON in bench/results/
    .venv/bin/python bench/export_bench.py --events 100000   # a smaller store

The events are written to a SQLite store in batches, then read back through the API
in-process (ASGI, no sockets) as JSON Lines, CSV and (when pyarrow is installed) Parquet.
For each format: rows per second (target ≥ 100,000) and the growth of the process's resident
memory while streaming (flat memory: the target is that it does not grow with the rows; we
report the growth in MB). Rows per CPU-second are printed too: on a busy machine they show
what the code costs apart from what other processes take. Not a test: it prints a table and
writes JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import psutil

from basir.api.app import create_app
from basir.config import Settings
from basir.engine.runtime import Engine
from basir.security.tokens import ensure_admin
from basir.store.factory import open_store
from basir.store.records import Batch, EventRecord

HERE = Path(__file__).parent
WRITE_BATCH = 20_000
TARGET_ROWS_PER_S = 100_000.0
ADMIN_TOKEN = "export-bench-admin-token-0123456789"


async def seed(store_url: str, count: int) -> float:
    """Write `count` task events (a realistic small `data`); seconds taken."""
    store = open_store(store_url)
    await store.open()
    began = time.perf_counter()
    base = time.time() - count / 1000
    for start in range(0, count, WRITE_BATCH):
        events = [
            EventRecord(
                "task.succeeded",
                f"run-{i // 10}/t{i % 10}",
                base + i / 1000,
                {"attempt": 1, "outputs": {"n": i}},
                run_id=f"run-{i // 10}",
                workflow="export-bench",
                task_id=f"t{i % 10}",
            )
            for i in range(start, min(start + WRITE_BATCH, count))
        ]
        await store.write(Batch(events=events))
    took = time.perf_counter() - began
    await store.close()
    return took


async def stream(store_url: str, home: Path, fmt: str) -> dict[str, float]:
    """Stream the export once; rows/s and RSS growth."""
    store = open_store(store_url)
    await store.open()
    settings = Settings(home=home, shutdown_grace_s=0.0)
    engine = Engine(store, settings, workdir=home)
    await engine.start(resume=False)
    await ensure_admin(store, ADMIN_TOKEN)
    app = create_app(engine, settings)
    process = psutil.Process()
    rss_before = process.memory_info().rss
    peak = [rss_before]
    size = [0]
    status = [0]

    requested = [False]
    done = asyncio.Event()

    async def receive() -> dict[str, object]:
        if not requested[0]:
            requested[0] = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()  # the client stays until the whole body was sent
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        # The body is counted and dropped, as a socket would: an HTTP client library's
        # in-process transport keeps the whole body, which is not the server's memory.
        if message["type"] == "http.response.start":
            status[0] = int(message["status"])  # type: ignore[call-overload]
        elif message["type"] == "http.response.body":
            size[0] += len(message.get("body", b""))  # type: ignore[arg-type]
            peak[0] = max(peak[0], process.memory_info().rss)
            if not message.get("more_body", False):
                done.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/v1/export/events",
        "raw_path": b"/api/v1/export/events",
        "query_string": f"format={fmt}".encode(),
        "headers": [(b"authorization", f"Bearer {ADMIN_TOKEN}".encode()), (b"host", b"bench")],
        "client": ("127.0.0.1", 1),
        "server": ("bench", 80),
        "root_path": "",
    }
    began = time.perf_counter()
    cpu_began = time.process_time()
    await app(scope, receive, send)
    assert status[0] == 200, status[0]
    took = time.perf_counter() - began
    cpu = time.process_time() - cpu_began
    rss_peak = max(peak[0], process.memory_info().rss)
    await engine.stop(grace_s=0)
    await store.close()
    return {
        "seconds": took,
        "cpu_s": cpu,
        "mb": size[0] / 1e6,
        "rss_growth_mb": (rss_peak - rss_before) / 1e6,
    }


def main() -> int:
    """Seed, export in each format, print a table, write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--json", type=Path, default=HERE / "results" / "export_bench.json")
    args = parser.parse_args()
    formats = ["jsonl", "csv"]
    if importlib.util.find_spec("pyarrow") is not None:
        formats.append("parquet")
    result: dict[str, object] = {"events": args.events}
    with tempfile.TemporaryDirectory(prefix="basir-export-bench-") as name:
        tmp = Path(name)
        url = f"sqlite:///{tmp / 'export.db'}"
        result["seed_s"] = round(asyncio.run(seed(url, args.events)), 2)
        for fmt in formats:
            figures = asyncio.run(stream(url, tmp / f"home-{fmt}", fmt))
            rate = args.events / figures["seconds"]
            result[fmt] = {
                "seconds": round(figures["seconds"], 2),
                "rows_per_s": round(rate),
                "rows_per_cpu_s": round(args.events / figures["cpu_s"]),
                "mb": round(figures["mb"], 1),
                "rss_growth_mb": round(figures["rss_growth_mb"], 1),
                "target_met": rate >= TARGET_ROWS_PER_S,
            }
    result["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    print(
        f"{'format':>8} {'seconds':>8} {'rows/s':>10} {'rows/cpu-s':>11} {'MB':>8}"
        f" {'RSS +MB':>8}  target"
    )
    for fmt in formats:
        row = result[fmt]
        assert isinstance(row, dict)
        print(
            f"{fmt:>8} {row['seconds']:>8} {row['rows_per_s']:>10} {row['rows_per_cpu_s']:>11}"
            f" {row['mb']:>8}"
            f" {row['rss_growth_mb']:>8}  {'met' if row['target_met'] else 'MISSED'} (≥ 100,000)"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
