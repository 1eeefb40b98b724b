"""Dashboard benchmarks against a real `basir server` process (issue 12).

    python bench/dashboard_bench.py            # all four, a table, JSON in bench/results/
    python bench/dashboard_bench.py --clients 100 --seconds 5   # a quicker look

(a) pages: the runs page with 10,000 runs stored and the run page of a 1,000-task run (its
    HTML, its graph JSON and its timeline fragment), sequential requests, p50/p95 (target:
    the 1,000-task run page ≤ 200 ms).
(b) live-update latency: a run's committed task event (its `time`) → the DAG node of the open
    run page in headless chromium changing state (a MutationObserver notes the moment),
    p50/p95/p99 (target p99 ≤ 50 ms).
(c) fan-out (`sse_fanout.py`, also runnable alone): N SSE clients on `/api/v1/events` in a
    few processes while runs of 100 no-op tasks commit a steady rate of events: events/s
    committed, share of events delivered to every client, lag (event time → read) p50/p99
    on probe clients that parse every event (the others only count frames), server CPU per
    second and per delivery, load average (target: every event delivered, lag p99 ≤ 100 ms).
(d) readers vs the writer, the bar of issue 12: with 10,000 runs stored, `wrk -t1 -c50` on
    `GET /api/v1/runs?limit=50` and on the runs page (session cookie), quiet and then while
    another process starts 20 runs/s through `POST /api/v1/workflows/{name}/runs`: req/s,
    p99, errors, POST p50/p99, server CPU per request, load average (target ≥ 1,500 req/s,
    p99 ≤ 100 ms, no errors, POST p99 ≤ 50 ms).  `--only readers` runs (d) alone.

Bounded: each part stops after its own time budget; the server is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import httpx

import sse_fanout
from api_bench import TOKEN, ServerProcess, epoch, percentile

HERE = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
TARGETS = {"run_page_p95_ms": 200.0, "live_p99_ms": 50.0, "fanout_lag_p99_ms": 100.0}
SEED = "name: bench-seed\ntasks:\n  - {id: only, uses: noop}\n"
FAN = """name: bench-fan
tasks:
  - id: list
    run: echo "items=[$(seq -s, 0 998)]" >> "$BASIR_OUTPUT"
  - id: work
    needs: [list]
    foreach: ${{ tasks.list.outputs.items }}
    uses: noop
"""
CHAIN = """name: bench-chain
tasks:
""" + "".join(
    f"  - {{id: s{n:02}, uses: sleep, with: {{seconds: {0.05 if n else 2}}}"
    f"{f', needs: [s{n - 1:02}]' if n else ''}}}\n"
    for n in range(40)
)
LOAD = "name: bench-load\ntasks:\n" + "".join(f"  - {{id: t{n}, uses: noop}}\n" for n in range(10))


def seed_runs(home: Path, total: int) -> None:
    """Write `total` finished runs straight into the server's store (before it starts)."""
    from basir.config import Settings
    from basir.coordinator.workflows import apply_workflow
    from basir.spec.validate import load_workflow
    from basir.store.factory import open_store
    from basir.store.records import Batch, RunInsert, RunRecord, TaskRecord

    async def write() -> None:
        store = open_store(Settings(home=home).db_url)
        await store.open()
        try:
            workflow = await apply_workflow(store, load_workflow(SEED), "bench")
            version = getattr(workflow, "version", 1)
            now = time.time() - total
            for start in range(0, total, 500):
                changes: list[Any] = []
                for n in range(start, min(total, start + 500)):
                    run = RunRecord(
                        f"seed{n:06}", "bench-seed", version, "succeeded",
                        created_at=now + n, finished_at=now + n + 0.01,
                    )  # fmt: skip
                    changes.append(RunInsert(run, [TaskRecord(run.id, "only", "succeeded")]))
                await store.write(Batch(changes=changes))
        finally:
            await store.close()

    asyncio.run(write())


def session(url: str) -> httpx.Client:
    """A dashboard session of admin (logged in through the form)."""
    client = httpx.Client(base_url=url, timeout=30)
    page = client.get("/login")
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    answer = client.post("/login", data={"csrf": csrf, "user": "admin", "token": TOKEN})
    if answer.status_code != 303:
        raise RuntimeError(f"login failed: {answer.status_code}")
    return client


def api(url: str) -> httpx.Client:
    """The REST API as admin."""
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)


def start(client: httpx.Client, text: str, name: str, wait: bool = True) -> str:
    """Apply a workflow (once) and start a run; wait for its end when asked."""
    client.post("/api/v1/workflows", content=text, headers={"Content-Type": "application/yaml"})
    run_id: str = client.post(f"/api/v1/workflows/{name}/runs", json={}).json()["run_id"]
    deadline = time.monotonic() + 120
    while wait and time.monotonic() < deadline:
        if client.get(f"/api/v1/runs/{run_id}").json()["status"] in {"succeeded", "failed"}:
            break
        time.sleep(0.2)
    return run_id


def timed(client: httpx.Client, path: str, count: int, **headers: str) -> dict[str, float]:
    """p50/p95/max of `count` sequential GETs (after 3 warm-ups), in ms."""
    for _ in range(3):
        client.get(path, headers=headers).raise_for_status()
    samples = []
    size = 0
    for _ in range(count):
        began = time.perf_counter()
        response = client.get(path, headers=headers)
        samples.append((time.perf_counter() - began) * 1000)
        response.raise_for_status()
        size = len(response.content)
    return {"p50_ms": percentile(samples, 50), "p95_ms": percentile(samples, 95),
            "max_ms": max(samples), "bytes": size}  # fmt: skip


def bench_pages(url: str, count: int) -> dict[str, Any]:
    """(a) the runs page over 10,000 runs and a 1,000-task run's page, graph and timeline."""
    with api(url) as client:
        big = start(client, FAN, "bench-fan")
    browser = session(url)
    try:
        return {
            "big_run_tasks": len(browser.get(f"/runs/{big}/graph").json()["nodes"]),
            "runs_page": timed(browser, "/runs", count),
            "runs_table": timed(browser, "/runs?part=table", count),
            "run_page": timed(browser, f"/runs/{big}", count),
            "run_graph": timed(browser, f"/runs/{big}/graph", count),
            "run_timeline": timed(browser, f"/runs/{big}/timeline", count, **{"HX-Request": "1"}),
        }
    finally:
        browser.close()


OBSERVER = """() => {
  window.benchSeen = [];
  window.benchSince = Date.now();
  window.benchMsgs = [];
  const box = document.getElementById('dag');
  box.addEventListener('htmx:sseMessage', e => window.benchMsgs.push([e.detail.data, Date.now()]));
  new MutationObserver(records => {
    const at = Date.now();
    for (const r of records) {
      const g = r.target;
      if (r.attributeName === 'data-status' && g.getAttribute) {
        window.benchSeen.push([g.getAttribute('data-task'), g.getAttribute('data-status'), at]);
      }
    }
  }).observe(box, {attributes: true, subtree: true, attributeFilter: ['data-status']});
}"""


def bench_live(url: str) -> dict[str, Any]:
    """(b) commit → DOM: a 40-step chain watched in chromium."""
    from playwright.sync_api import sync_playwright

    with api(url) as client:
        client.post("/api/v1/workflows", content=CHAIN,
                    headers={"Content-Type": "application/yaml"})  # fmt: skip
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            try:
                page = browser.new_page(base_url=url)
                page.goto("/login")
                page.fill("#user", "admin")
                page.fill("#token", TOKEN)
                page.click("#login-submit")
                page.wait_for_selector("#logout")
                run_id = client.post("/api/v1/workflows/bench-chain/runs", json={}).json()["run_id"]
                page.goto(f"/runs/{run_id}")
                page.wait_for_selector("#dag g.node")
                page.evaluate(OBSERVER)
                page.wait_for_selector('#dag g.node[data-task="s39"][data-status="succeeded"]',
                                       timeout=60_000)  # fmt: skip
                seen = page.evaluate("window.benchSeen")
                since = page.evaluate("window.benchSince")
                if os.environ.get("BENCH_DEBUG"):
                    print(json.dumps(page.evaluate("window.benchMsgs")[:12]))
                    print(json.dumps(seen[:12]))
            finally:
                browser.close()
        events = client.get("/api/v1/events/history",
                            params={"run": run_id, "limit": 1000}).json()["items"]  # fmt: skip
    committed = {}
    for event in events:
        if event["type"] in ("task.started", "task.succeeded"):
            key = (event["subject"].rsplit("/", 1)[-1], event["type"].split(".")[1])
            committed[key] = epoch(event["time"])
    first: dict[tuple[str, str], float] = {}
    for task, status, at in seen:
        first.setdefault((task, status), at)  # later ones are label refreshes
    lags = [
        at - committed[key] * 1000
        for key, at in first.items()
        if key in committed and committed[key] * 1000 > since  # committed while watched
    ]
    if not lags:
        raise RuntimeError("no change was seen in the page")
    return {"live_changes": len(lags), "live_p50_ms": percentile(lags, 50),
            "live_p95_ms": percentile(lags, 95), "live_p99_ms": percentile(lags, 99)}  # fmt: skip


def wrk_figures(output: str) -> dict[str, Any]:
    """req/s, p50/p99 (ms) and errors (non-2xx/3xx and socket errors) of a `wrk --latency` run."""
    import re

    from api_bench import _wrk_ms

    rps = float(output.split("Requests/sec:")[1].split(maxsplit=1)[0])
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                        output)  # fmt: skip
    errors = int(non2xx.group(1)) if non2xx else 0
    errors += sum(int(n) for n in sockets.groups()) if sockets else 0
    return {
        "rps": rps,
        "p50_ms": _wrk_ms(output.split(" 50%")[1].split(maxsplit=1)[0]),
        "p99_ms": _wrk_ms(output.split(" 99%")[1].split(maxsplit=1)[0]),
        "errors": errors,
        "requests": int(output.split(" requests in ", maxsplit=1)[0].rsplit(maxsplit=1)[-1]),
    }


READER_TARGETS = {"rps": 1500.0, "p99_ms": 100.0, "post_p99_ms": 50.0}


def bench_runs_under_load(
    url: str, pid: int, seconds: int, runs_per_s: float, load: bool = True
) -> dict[str, Any]:
    """(d) the bar of issue 12: `wrk -t1 -c50` on `GET /api/v1/runs?limit=50` (bearer token)
    and on the runs page (session cookie), each for `seconds`, while another process starts
    `runs_per_s` runs through `POST /api/v1/workflows/{name}/runs` and times each one.
    Per endpoint: req/s, p50/p99, errors, POST p50/p99, server CPU per request, load average.
    `load=False` measures the same endpoints quiet (no runs started)."""
    import shutil
    import subprocess

    wrk = shutil.which("wrk")
    if wrk is None:
        return {"skipped": "wrk is missing (apt-get install wrk)"}
    browser = session(url)
    cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
    browser.close()
    targets = {
        "api": (f"Authorization: Bearer {TOKEN}", f"{url}/api/v1/runs?limit=50"),
        "page": (f"Cookie: {cookie}", f"{url}/runs"),
    }
    result: dict[str, Any] = {"seconds": seconds, "runs_per_s": runs_per_s if load else 0}
    per_run = 0.0  # the server's CPU seconds per run started alone (POST and engine work)
    if load:
        cpu_before = cpu_s(pid)
        times = load_runs(url, runs_per_s, seconds)
        spent = cpu_s(pid) - cpu_before
        per_run = spent / max(1, len(times))
        result["writer_alone"] = {
            "server_cpu_share": spent / seconds,
            "server_cpu_ms_per_run": per_run * 1000,
            "posts": len(times),
            "post_p50_ms": percentile(times, 50),
            "post_p99_ms": percentile(times, 99),
            "loadavg": os.getloadavg(),
        }
    for name, (header, target) in targets.items():
        cpu_before = cpu_s(pid)
        command = [wrk, "-t1", "-c50", f"-d{seconds}s", "--latency", "-H", header, target]
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            posts = pool.submit(load_runs, url, runs_per_s, seconds) if load else None
            output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            times = posts.result() if posts is not None else []
        cpu = cpu_s(pid) - cpu_before
        figures = wrk_figures(output)
        figures.update(
            server_cpu_ms_per_request=cpu * 1000 / max(1, figures["requests"] + len(times)),
            # Less the runs' own work (per run, measured alone just before).
            reader_cpu_ms_per_request=max(0.0, cpu - per_run * len(times))
            * 1000
            / max(1, figures["requests"]),
            server_cpu_share=cpu / seconds,
            posts=len(times),
            post_p50_ms=percentile(times, 50) if times else float("nan"),
            post_p99_ms=percentile(times, 99) if times else float("nan"),
            loadavg=os.getloadavg(),
        )
        result[name] = figures
    return result


def load_runs(url: str, runs_per_s: float, seconds: float) -> list[float]:
    """Start runs of `bench-load` at a steady rate for `seconds`; each POST's time in ms."""
    posts: list[float] = []
    with api(url) as client:
        if client.get("/api/v1/workflows/bench-load").status_code == 404:
            client.post("/api/v1/workflows", content=LOAD,
                        headers={"Content-Type": "application/yaml"})  # fmt: skip
        began = time.monotonic()
        n = 0
        while time.monotonic() - began < seconds:
            time.sleep(max(0.0, began + n / runs_per_s - time.monotonic()))
            sent = time.perf_counter()
            client.post("/api/v1/workflows/bench-load/runs", json={}).raise_for_status()
            posts.append((time.perf_counter() - sent) * 1000)
            n += 1
    return posts


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reader_rows(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The table rows of (d)."""
    rows: list[tuple[str, str, str]] = []
    for label, key in (("quiet", "readers_quiet"), ("20 runs/s", "readers")):
        readers = result.get(key) or {}
        alone = readers.get("writer_alone")
        if alone:
            post = f"{alone['post_p50_ms']:.1f} / {alone['post_p99_ms']:.1f} ms"
            post += f" ({alone['posts']} runs)"
            rows += [
                ("POST /runs alone (20 runs/s) p50 / p99", post, "p99 ≤ 50 ms"),
                ("  server CPU for the runs alone", f"{alone['server_cpu_ms_per_run']:.1f} ms per "
                 f"run, {alone['server_cpu_share'] * 100:.0f} % of a core, load "
                 f"{' '.join(f'{x:.2f}' for x in alone['loadavg'])}", ""),
            ]  # fmt: skip
        for name, title in (("api", "GET /api/v1/runs?limit=50"), ("page", "runs page")):
            if "skipped" in readers:
                rows.append((title, readers["skipped"], ""))
                break
            if name not in readers:
                continue
            r = readers[name]
            load = " ".join(f"{x:.2f}" for x in r["loadavg"])
            rows += [
                (f"{title}, wrk -t1 -c50, {label}", f"{r['rps']:.0f} req/s, p99 "
                 f"{r['p99_ms']:.1f} ms, {r['errors']} errors", "≥ 1,500, p99 ≤ 100 ms, 0"),
                ("  server CPU per request", f"{r['server_cpu_ms_per_request']:.2f} ms "
                 f"({r['server_cpu_share'] * 100:.0f} % of a core), load {load}", ""),
            ]  # fmt: skip
            if r["posts"]:
                rows.append(("  the same less the runs' own work",
                             f"{r['reader_cpu_ms_per_request']:.2f} ms", "≤ 0.4 ms"))  # fmt: skip
            if r["posts"]:
                post = f"{r['post_p50_ms']:.1f} / {r['post_p99_ms']:.1f} ms ({r['posts']} runs)"
                rows.append(("  POST /runs meanwhile p50 / p99", post, "p99 ≤ 50 ms"))
    return rows


def print_table(result: dict[str, Any]) -> None:
    """A human-readable summary."""
    pages = result.get("pages", {})
    rows: list[tuple[str, str, str]] = []
    for key, name, target in (
        ("runs_page", f"runs page ({result['runs_stored']:,} runs)", ""),
        ("runs_table", "  its live table fragment", ""),
        ("run_page", f"run page ({pages.get('big_run_tasks', 0):,} tasks)", "≤ 200 ms"),
        ("run_graph", "  its graph JSON", ""),
        ("run_timeline", "  its timeline fragment", ""),
    ):
        if key in pages:
            p = pages[key]
            rows.append((name, f"{p['p50_ms']:.1f} / {p['p95_ms']:.1f} ms ({p['bytes']:,} B)",
                         target))  # fmt: skip
    if "live_p50_ms" in result:
        rows.append(("commit → DOM p50 / p95 / p99",
                     f"{result['live_p50_ms']:.1f} / {result['live_p95_ms']:.1f} / "
                     f"{result['live_p99_ms']:.1f} ms", "p99 ≤ 50 ms"))  # fmt: skip
    rows += reader_rows(result)
    if result.get("fanout"):
        rows += sse_fanout.rows(result["fanout"])
    width = max(len(r[0]) for r in rows) + 2
    print(f"{'measure':<{width}}{'p50 / p95 (size)':<62}target")
    for name, value, target in rows:
        print(f"{name:<{width}}{value:<62}{target}")


def main() -> int:
    """Run the benchmarks (each bounded) and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stored", type=int, default=10_000, help="runs stored for (a)")
    parser.add_argument("--requests", type=int, default=30, help="GETs per page for (a)")
    parser.add_argument("--clients", type=int, default=500, help="SSE clients for (c)")
    parser.add_argument("--seconds", type=float, default=10.0, help="load time for (c)")
    parser.add_argument(
        "--events-per-s", type=float, default=1000.0, help="events committed per second in (c)"
    )
    parser.add_argument("--skip-browser", action="store_true", help="skip (b)")
    parser.add_argument("--only", choices=("pages", "live", "readers", "fanout"),
                        help="run only this part")  # fmt: skip
    parser.add_argument("--reader-seconds", type=int, default=10, help="wrk seconds in (d)")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "dashboard_bench.json")
    args = parser.parse_args()
    result: dict[str, Any] = {"runs_stored": args.stored}
    with tempfile.TemporaryDirectory(prefix="basir-dash-bench-") as tmp:
        home = Path(tmp)
        seed_runs(home, args.stored)
        server = ServerProcess(home)
        pid = server.process.pid
        try:
            wanted = {args.only} if args.only else {"pages", "live", "readers", "fanout"}
            if "pages" in wanted:
                result["pages"] = bench_pages(server.url, args.requests)
            if "live" in wanted and not args.skip_browser and Path(CHROMIUM).exists():
                result.update(bench_live(server.url))
            if "readers" in wanted:
                with api(server.url) as client:
                    client.post("/api/v1/workflows", content=LOAD,
                                headers={"Content-Type": "application/yaml"})  # fmt: skip
                seconds = args.reader_seconds
                result["readers_quiet"] = bench_runs_under_load(server.url, pid, seconds, 0, False)
                result["readers"] = bench_runs_under_load(server.url, pid, seconds, 20.0)
            if "fanout" in wanted:
                result["fanout"] = sse_fanout.bench_fanout(
                    server.url, server.process.pid, args.clients, args.seconds, args.events_per_s
                )
        finally:
            server.stop()
    result["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                         "platform": platform.platform(), "load": os.getloadavg()}  # fmt: skip
    print_table(result)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
