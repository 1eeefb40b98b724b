"""Audit log benchmark: what recording costs a request, and how fast the log is written and
verified.

    .venv/bin/python bench/audit_bench.py                  # JSON in bench/results/
    .venv/bin/python bench/audit_bench.py --entries 5000   # a smaller run

1. Request path: `entry_of` + `AuditRecorder.record` per mutating request (what the middleware
   adds to a request; no I/O), in microseconds.
2. Writing: `--entries` entries recorded at once and drained by the recorder's one writer
   (batches of up to 500 per transaction), entries/s; and, for comparison, one append (one
   transaction) per entry, as a per-request write would do.
3. Verifying: `verify_log` over the whole log, entries/s.
On SQLite (a temporary file) and on PostgreSQL at 127.0.0.1:5432 when it answers.  Not a test:
it prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from basir.api.audit_middleware import entry_of
from basir.security.audit import verify_log
from basir.security.audit_recorder import AUDIT_PRINCIPAL, AuditRecorder
from basir.security.tokens import Principal
from basir.store.audit_records import AuditEntry
from basir.store.factory import open_store

HERE = Path(__file__).parent
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
ONE_BY_ONE = 500


def scope(i: int) -> dict[str, Any]:
    """The scope of a finished `POST /api/v1/runs/{run_id}/cancel` by an admin."""
    return {
        "method": "POST",
        "route": SimpleNamespace(path="/api/v1/runs/{run_id}/cancel"),
        "path_params": {"run_id": f"run-{i}"},
        AUDIT_PRINCIPAL: Principal("admin", frozenset({"admin"}), token_name="bench"),
    }


def entry(i: int) -> AuditEntry:
    made = entry_of(scope(i), 202, time.time())
    assert made is not None
    return made


async def request_path_cost(count: int) -> float:
    """Microseconds per request of building and queueing an entry (the writer not started)."""
    store = open_store("memory://")
    await store.open()
    recorder = AuditRecorder(store, max_pending=count + 1)
    recorder._stopping = True  # measure the queueing alone
    scopes = [scope(i) for i in range(count)]
    began = time.perf_counter()
    for s in scopes:
        made = entry_of(s, 202, 1.0)
        assert made is not None
        recorder.record(made)
    return (time.perf_counter() - began) / count * 1e6


async def store_figures(url: str, count: int) -> dict[str, float]:
    """Entries/s drained by the recorder, appended one by one, and verified."""
    store = open_store(url)
    await store.open()
    try:
        recorder = AuditRecorder(store)
        recorder.start()
        entries = [entry(i) for i in range(count)]
        began = time.perf_counter()
        for made in entries:
            recorder.record(made)
        await recorder.drained()
        batched = count / (time.perf_counter() - began)
        await recorder.stop()
        began = time.perf_counter()
        for i in range(ONE_BY_ONE):
            await store.audit_append([entry(i)])
        single = ONE_BY_ONE / (time.perf_counter() - began)
        began = time.perf_counter()
        verdict = await verify_log(store)
        verified = verdict["entries"] / (time.perf_counter() - began)
        assert verdict["ok"] and verdict["entries"] == count + ONE_BY_ONE
    finally:
        await store.close()
    return {"batched_per_s": batched, "one_by_one_per_s": single, "verify_per_s": verified}


async def postgres_url() -> tuple[str, str] | None:
    """A fresh database's URL and name, or None when PostgreSQL does not answer."""
    try:
        import asyncpg

        conn = await asyncpg.connect(f"{PG_SERVER}/postgres", timeout=3)
    except (OSError, ImportError, Exception):
        return None
    name = f"basir_bench_{uuid.uuid4().hex[:10]}"
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return f"{PG_SERVER}/{name}", name


async def drop_database(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(f"{PG_SERVER}/postgres", timeout=3)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


async def measure(count: int) -> dict[str, Any]:
    """Every figure."""
    result: dict[str, Any] = {"entries": count, "python": platform.python_version()}
    result["request_path_us"] = await request_path_cost(count)
    with tempfile.TemporaryDirectory() as tmp:
        result["sqlite"] = await store_figures(f"sqlite:///{tmp}/audit.db", count)
    pg = await postgres_url()
    if pg is not None:
        try:
            result["postgres"] = await store_figures(pg[0], count)
        finally:
            await drop_database(pg[1])
    return result


def main() -> int:
    """Measure, print a table, write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--json", type=Path, default=HERE / "results" / "audit_bench.json")
    args = parser.parse_args()
    result = asyncio.run(measure(args.entries))
    print(f"audit: {args.entries} entries; request path {result['request_path_us']:.1f} µs/request")
    print(f"{'store':<10} {'batched/s':>12} {'one-by-one/s':>14} {'verify/s':>12}")
    for name in ("sqlite", "postgres"):
        if name in result:
            row = result[name]
            print(
                f"{name:<10} {row['batched_per_s']:>12,.0f} {row['one_by_one_per_s']:>14,.0f}"
                f" {row['verify_per_s']:>12,.0f}"
            )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
