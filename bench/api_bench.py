"""API benchmarks against a real `basir server` process (issue 3).

    python bench/api_bench.py                 # all three, a table, JSON in bench/results/
    python bench/api_bench.py --runs 50 --duration 5   # a quicker look

(a) start-to-first-task: `POST /workflows/{name}/runs` sent → the run's `task.started` event
    time, over N sequential runs of a one-task workflow (also: run created → task started,
    inside the server).
(b) event delivery: an event's `time` (the committed state change) → the moment an SSE client
    in this process has read it, over every event of those runs.
(c) `GET /api/v1/runs?limit=50` with ≥ 1,000 runs stored: `wrk -t2 -c50 -d20s` on 127.0.0.1
    (requests/s, p99, errors).  Needs `wrk` (apt-get install wrk).

Targets (issue 3): list ≥ 800 req/s with p99 ≤ 150 ms and no errors; start-to-first-task
p99 ≤ 10 ms; event delivery p99 ≤ 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
BASIR = str(Path(sys.executable).parent / "basir")
TOKEN = "bench-admin-token-0123456789abcdef"
WORKFLOW = "name: bench-api\ntasks:\n  - {id: only, uses: noop}\n"
TARGETS = {"list_rps": 800.0, "list_p99_ms": 150.0, "start_p99_ms": 10.0, "event_p99_ms": 50.0}


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), nearest-rank."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def epoch(text: str) -> float:
    """ISO 8601 with a `Z` → Unix seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServerProcess:
    """`basir server` on a fresh home and a free port."""

    def __init__(self, home: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("BASIR_")}
        env.update(BASIR_HOME=str(home), BASIR_ADMIN_TOKEN=TOKEN)
        self.log = (home / "server.log").open("w")
        self.process = subprocess.Popen(
            [BASIR, "server", "--port", str(self.port)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("the server did not start")

    def stop(self) -> None:
        """SIGTERM, then wait."""
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(60)
        self.log.close()


class EventListener(threading.Thread):
    """Reads the live SSE stream; records every event with the time it was read."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.live = threading.Event()
        self.lock = threading.Condition()
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.ended: set[str] = set()

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        timeout = httpx.Timeout(10, read=None)
        with (
            httpx.Client(base_url=self.url, headers=headers, timeout=timeout) as client,
            client.stream("GET", "/api/v1/events") as response,
        ):
            for line in response.iter_lines():
                if line.startswith(": live"):
                    self.live.set()
                if not line.startswith("data: "):
                    continue
                received = time.time()
                event = json.loads(line[6:])
                with self.lock:
                    self.events.append((received, event))
                    if event["type"] in ("run.succeeded", "run.failed", "run.cancelled"):
                        self.ended.add(event["data"]["run_id"])
                        self.lock.notify_all()

    def wait_end(self, run_id: str, timeout_s: float = 30) -> None:
        """Block until the run's final event has been read."""
        with self.lock:
            if not self.lock.wait_for(lambda: run_id in self.ended, timeout_s):
                raise RuntimeError(f"run {run_id} did not end")


def bench_start_and_events(url: str, runs: int) -> dict[str, Any]:
    """(a) and (b): sequential runs, timed from the client and through the event stream."""
    listener = EventListener(url)
    listener.start()
    if not listener.live.wait(30):
        raise RuntimeError("the event stream did not open")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    sent: dict[str, float] = {}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        applied = client.post(
            "/api/v1/workflows", content=WORKFLOW, headers={"Content-Type": "application/yaml"}
        )
        applied.raise_for_status()
        for index in range(runs + 5):  # the first 5 warm up
            began = time.time()
            response = client.post("/api/v1/workflows/bench-api/runs", json={})
            response.raise_for_status()
            run_id = response.json()["run_id"]
            listener.wait_end(run_id)
            if index >= 5:
                sent[run_id] = began
    with listener.lock:
        events = list(listener.events)
    started: dict[str, float] = {}
    created: dict[str, float] = {}
    delivery: list[float] = []
    for received, event in events:
        run_id = event["data"].get("run_id")
        if run_id not in sent:
            continue
        delivery.append((received - epoch(event["time"])) * 1000)
        if event["type"] == "task.started":
            started.setdefault(run_id, epoch(event["time"]))
        if event["type"] == "run.queued":
            created.setdefault(run_id, epoch(event["time"]))
    api = [(started[r] - sent[r]) * 1000 for r in sent if r in started]
    inside = [(started[r] - created[r]) * 1000 for r in sent if r in started and r in created]
    return {
        "runs": len(api),
        "start_p50_ms": percentile(api, 50),
        "start_p99_ms": percentile(api, 99),
        "start_in_server_p50_ms": percentile(inside, 50),
        "start_in_server_p99_ms": percentile(inside, 99),
        "events": len(delivery),
        "event_p50_ms": percentile(delivery, 50),
        "event_p99_ms": percentile(delivery, 99),
        "event_max_ms": max(delivery),
    }


def seed_runs(url: str, total: int) -> int:
    """Start runs until `total` are stored, then wait for them to finish."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        have = 0
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 200}
            if cursor:
                params["cursor"] = cursor
            page = client.get("/api/v1/runs", params=params).json()
            have += len(page["items"])
            cursor = page["next"]
            if cursor is None:
                break
        for _ in range(max(0, total - have)):
            client.post("/api/v1/workflows/bench-api/runs", json={}).raise_for_status()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            busy = sum(
                len(client.get("/api/v1/runs", params={"status": s, "limit": 1}).json()["items"])
                for s in ("queued", "running")
            )
            if not busy:
                break
            time.sleep(0.5)
    return max(total, have)


_WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _wrk_ms(text: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s)", text)
    if match is None:
        raise ValueError(text)
    return float(match.group(1)) * _WRK_UNITS[match.group(2)]


def bench_list(url: str, duration_s: int, connections: int, threads: int) -> dict[str, Any]:
    """(c): wrk against GET /api/v1/runs?limit=50."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is missing: apt-get install wrk")
    command = [
        wrk, f"-t{threads}", f"-c{connections}", f"-d{duration_s}s", "--latency",
        "-H", f"Authorization: Bearer {TOKEN}", f"{url}/api/v1/runs?limit=50",
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _wrk_ms(re.search(r"\s50%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    p99 = _wrk_ms(re.search(r"\s99%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = int(non2xx.group(1)) if non2xx else 0
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return {"list_rps": rps, "list_p50_ms": p50, "list_p99_ms": p99, "list_errors": errors,
            "wrk": " ".join(command[:5]), "wrk_output": output}  # fmt: skip


def verdicts(result: dict[str, Any]) -> dict[str, bool]:
    """Which targets were met."""
    return {
        "list_rps": result["list_rps"] >= TARGETS["list_rps"],
        "list_p99_ms": result["list_p99_ms"] <= TARGETS["list_p99_ms"],
        "list_errors": result["list_errors"] == 0,
        "start_p99_ms": result["start_p99_ms"] <= TARGETS["start_p99_ms"],
        "event_p99_ms": result["event_p99_ms"] <= TARGETS["event_p99_ms"],
    }


def print_table(result: dict[str, Any]) -> None:
    """A human-readable summary."""
    ok = verdicts(result)
    rows = [
        ("start→first task (API) p50 / p99", f"{result['start_p50_ms']:.2f} / "
         f"{result['start_p99_ms']:.2f} ms", "p99 ≤ 10 ms", ok["start_p99_ms"]),
        ("  in server (run created→task started)", f"{result['start_in_server_p50_ms']:.2f} / "
         f"{result['start_in_server_p99_ms']:.2f} ms", "", None),
        ("event delivery p50 / p99", f"{result['event_p50_ms']:.2f} / "
         f"{result['event_p99_ms']:.2f} ms", "p99 ≤ 50 ms", ok["event_p99_ms"]),
        (f"GET /runs?limit=50 ({result['runs_stored']} runs)", f"{result['list_rps']:.0f} req/s",
         "≥ 800 req/s", ok["list_rps"]),
        ("  p50 / p99", f"{result['list_p50_ms']:.2f} / {result['list_p99_ms']:.2f} ms",
         "p99 ≤ 150 ms", ok["list_p99_ms"]),
        ("  errors", str(result["list_errors"]), "0", ok["list_errors"]),
    ]  # fmt: skip
    width = max(len(r[0]) for r in rows) + 2
    for name, value, target, met in rows:
        mark = "" if met is None else ("ok" if met else "MISSED")
        print(f"{name:<{width}}{value:<24}{target:<16}{mark}")


def main() -> int:
    """Run the benchmarks; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200, help="sequential runs for (a), (b)")
    parser.add_argument("--stored", type=int, default=1000, help="runs stored for (c)")
    parser.add_argument("--duration", type=int, default=20, help="wrk seconds")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=HERE / "results" / "api_bench.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="basir-api-bench-") as tmp:
        server = ServerProcess(Path(tmp))
        try:
            result = bench_start_and_events(server.url, args.runs)
            result["runs_stored"] = seed_runs(server.url, args.stored)
            result.update(bench_list(server.url, args.duration, args.connections, args.threads))
        finally:
            server.stop()
    result["targets_met"] = verdicts(result)
    result["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                         "platform": platform.platform()}  # fmt: skip
    print_table(result)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0 if all(result["targets_met"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
