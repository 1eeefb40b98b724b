"""Export benchmark: `GET /api/v1/export/events` of 1,000,000 events, streamed.

    .venv/bin/python bench/export_bench.py                        # JSON in bench/results/
    .venv/bin/python bench/export_bench.py --sizes 100000,200000  # smaller stores

The events are written to a SQLite store in batches, then read back through the API
in-process (ASGI, no sockets) as JSON Lines, CSV and (when pyarrow is installed) Parquet, at
each size of `--sizes` (200,000 then 1,000,000 events: the store grows between them).  For
each size and format: rows per second (target ≥ 100,000) and the growth of the resident
memory while streaming, in all and once the first page was sent (flat memory: the growth
must not scale with the rows, so the two sizes show about the same).  Each export runs in a
fresh process, so one export's memory does not hide the next one's.  Rows per CPU-second
are printed too: on a busy machine they show what the code costs apart from what other
processes take.  Not a test: it prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import subprocess
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


async def seed(store_url: str, first: int, count: int) -> float:
    """Write task events `first` to `count` (a realistic small `data`); seconds taken."""
    store = open_store(store_url)
    await store.open()
    began = time.perf_counter()
    base = time.time() - 10_000_000 / 1000
    for start in range(first, count, WRITE_BATCH):
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
    if fmt == "parquet":  # imported once per server (tens of MB), not memory of this export
        importlib.import_module("pyarrow.parquet")
    process = psutil.Process()
    rss_before = process.memory_info().rss
    peak = [rss_before]
    first = [0]  # the RSS once the first page was sent
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
            if not first[0]:
                first[0] = peak[0]
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
        "rss_first_page_mb": (first[0] - rss_before) / 1e6,
    }


def child(url: str, home: Path, fmt: str, events: int) -> dict[str, object]:
    """One export in a fresh process (its RSS is its own); its figures."""
    out = subprocess.run(
        [sys.executable, __file__, "--stream", url, str(home), fmt],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    rate = events / figures["seconds"]
    return {
        "seconds": round(figures["seconds"], 2),
        "cpu_s": round(figures["cpu_s"], 2),
        "rows_per_s": round(rate),
        "rows_per_cpu_s": round(events / figures["cpu_s"]),
        "mb": round(figures["mb"], 1),
        "rss_growth_mb": round(figures["rss_growth_mb"], 1),
        "rss_first_page_mb": round(figures["rss_first_page_mb"], 1),
        "target_met": rate >= TARGET_ROWS_PER_S,
    }


def main() -> int:
    """Seed, export in each format at each size, print a table, write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="200000,1000000", help="store sizes, ascending")
    parser.add_argument("--formats", default="jsonl,csv,parquet")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "export_bench.json")
    parser.add_argument("--stream", nargs=3, metavar=("URL", "HOME", "FMT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stream:
        url, home, fmt = args.stream
        print(json.dumps(asyncio.run(stream(url, Path(home), fmt))))
        return 0
    formats = [f for f in args.formats.split(",") if f != "parquet"]
    if "parquet" in args.formats and importlib.util.find_spec("pyarrow") is not None:
        formats.append("parquet")
    sizes = [int(n) for n in args.sizes.split(",")]
    result: dict[str, object] = {"sizes": sizes, "load_before": os.getloadavg()}
    runs: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="basir-export-bench-") as name:
        tmp = Path(name)
        url = f"sqlite:///{tmp / 'export.db'}"
        seeded = 0
        for size in sizes:
            asyncio.run(seed(url, seeded, size))
            seeded = size
            for fmt in formats:
                row = {"events": size, "format": fmt, **child(url, tmp / f"home-{fmt}", fmt, size)}
                runs.append(row)
    result["runs"] = runs
    result["load_after"] = os.getloadavg()
    result["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    print(
        f"{'events':>9} {'format':>8} {'seconds':>8} {'cpu s':>7} {'rows/s':>9}"
        f" {'rows/cpu-s':>11} {'MB':>7} {'RSS +MB':>8} {'1st page':>8}  target"
    )
    for row in runs:
        print(
            f"{row['events']:>9} {row['format']:>8} {row['seconds']:>8} {row['cpu_s']:>7}"
            f" {row['rows_per_s']:>9} {row['rows_per_cpu_s']:>11} {row['mb']:>7}"
            f" {row['rss_growth_mb']:>8} {row['rss_first_page_mb']:>8}"
            f"  {'met' if row['target_met'] else 'MISSED'} (≥ 100,000)"
        )
    print(f"load average before {result['load_before']}, after {result['load_after']}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
