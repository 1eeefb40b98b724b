"""Part (c) of the dashboard bench: N SSE clients on `/api/v1/events` while the engine
commits a steady stream of events (issue 12: 500 clients, 1,000 events/s, every event
delivered, lag p99 ≤ 100 ms).

    python bench/sse_fanout.py --clients 500 --events-per-s 1000 --seconds 10

The producer (its own process) starts runs of one workflow with many quick tasks (a
`foreach` over 100 no-op tasks, `--tasks-per-run`) at the rate that gives the asked
events/s, the events per run measured on a first run.  The clients live in a few
processes on raw sockets (asyncio protocols, uvloop when present) and only count frames
in the raw bytes; a few probe clients parse every event and time it (event time → read).
Printed: events/s committed (from the probes' ids and times), the share delivered to each
client, lag p50/p99, the server's CPU per second of load and per delivery, the load
average.  `--hub`: the fan-out hub alone, in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from api_bench import TOKEN, ServerProcess, epoch, percentile

HERE = Path(__file__).resolve().parent
TASKS_PER_RUN = 100  # bigger runs need fewer POSTs but commit in bursts (more lag)


def burst(tasks: int) -> str:
    """A workflow of `tasks` no-op `foreach` instances (about two events each)."""
    return f"""name: bench-burst
tasks:
  - id: list
    run: echo "items=[$(seq -s, 0 {tasks - 1})]" >> "$BASIR_OUTPUT"
  - id: work
    needs: [list]
    foreach: ${{{{ tasks.list.outputs.items }}}}
    uses: noop
"""


PATTERN = b"\nid: "


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def api(url: str) -> httpx.Client:
    """The REST API as admin."""
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)


def events_per_run(url: str, tasks: int = TASKS_PER_RUN) -> int:
    """Apply the workflow and run it once to the end: how many events one run commits."""
    with api(url) as client:
        client.post("/api/v1/workflows", content=burst(tasks),
                    headers={"Content-Type": "application/yaml"}).raise_for_status()  # fmt: skip
        run_id = client.post("/api/v1/workflows/bench-burst/runs", json={}).json()["run_id"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if client.get(f"/api/v1/runs/{run_id}").json()["status"] in {"succeeded", "failed"}:
                break
            time.sleep(0.2)
        count, cursor = 0, None
        while True:
            params = {"run": run_id, "limit": 1000, **({"cursor": cursor} if cursor else {})}
            page = client.get("/api/v1/events/history", params=params).json()
            count += len(page["items"])
            if not (cursor := page["next"]):
                return count
    raise AssertionError("unreachable")


def produce(url: str, runs_per_s: float, seconds: float) -> list[float]:
    """Start `bench-burst` runs at a steady rate for `seconds` (each POST in its own thread,
    so a slow answer does not slow the rate); each POST's time in ms."""
    posts: list[float] = []

    def post(client: httpx.Client) -> None:
        sent = time.perf_counter()
        client.post("/api/v1/workflows/bench-burst/runs", json={}).raise_for_status()
        posts.append((time.perf_counter() - sent) * 1000)

    with api(url) as client, ThreadPoolExecutor(8) as pool:
        began = time.monotonic()
        n = 0
        futures = []
        while time.monotonic() - began < seconds:
            time.sleep(max(0.0, began + n / runs_per_s - time.monotonic()))
            futures.append(pool.submit(post, client))
            n += 1
        for future in futures:
            future.result()
    return posts


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def settle(pid: int, limit_s: float = 60.0) -> None:
    """Until the server is idle (under 10 ms of CPU in each of two half-seconds)."""
    deadline = time.monotonic() + limit_s
    quiet = 0
    while quiet < 2 and time.monotonic() < deadline:
        before = cpu_s(pid)
        time.sleep(0.5)
        quiet = quiet + 1 if cpu_s(pid) - before < 0.01 else 0


class _Counter(asyncio.Protocol):
    """One SSE client: counts frames in the raw bytes; a probe parses and times each one."""

    def __init__(self, request: bytes, probe: bool, live: asyncio.Event) -> None:
        self.request = request
        self.probe = probe
        self.live = live
        self.frames = 0
        self.tail = b""
        self.seen: list[tuple[int, float, float]] = []  # probes: (id, event time, read at)
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        joined = self.tail + data
        if not self.live.is_set() and b": live" in joined:
            self.live.set()
        self.frames += joined.count(PATTERN)
        if self.probe:
            now = time.time()
            lines = joined.split(b"\n")
            self.tail = lines.pop()
            for line in lines:
                if line.startswith(b"data: {"):
                    event = json.loads(line[6:])
                    self.seen.append((int(event["id"]), epoch(event["time"]), now))
        else:
            self.tail = data[-4:]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def _clients(url: str, count: int, probes: int, ready: Any, stop: Any) -> dict[str, Any]:
    host, port = url.removeprefix("http://").split(":")
    request = (
        f"GET /api/v1/events HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\n"
        "Accept: text/event-stream\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    made = []
    for n in range(count):
        live = asyncio.Event()
        transport, protocol = await loop.create_connection(
            lambda live=live, n=n: _Counter(request, n < probes, live), host, int(port)
        )
        made.append((transport, protocol))
    await asyncio.wait_for(asyncio.gather(*(p.live.wait() for _t, p in made)), 120)
    ready.put(count)
    while not stop.is_set():
        await asyncio.sleep(0.1)
    for transport, _protocol in made:
        transport.close()
    return {
        "frames": [p.frames for _t, p in made],
        "seen": [p.seen for _t, p in made if p.probe],
        "lost": sum(1 for _t, p in made if p.closed.done()),
    }


def client_process(url: str, count: int, probes: int, ready: Any, stop: Any) -> dict[str, Any]:
    """A process of `count` clients (the first `probes` of them parse); runs until `stop`."""
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with runner:
        return runner.run(_clients(url, count, probes, ready, stop))


def bench_fanout(
    url: str,
    pid: int,
    clients: int,
    seconds: float,
    events_per_s: float,
    processes: int = 4,
    tasks: int = TASKS_PER_RUN,
) -> dict[str, Any]:
    """(c) `clients` SSE clients while the engine commits `events_per_s` for `seconds`."""
    per_run = events_per_run(url, tasks)
    runs_per_s = events_per_s / per_run
    context = multiprocessing.get_context("spawn")
    manager = context.Manager()
    ready, stop = manager.Queue(), manager.Event()
    processes = max(1, min(processes, clients))
    shares = [clients // processes + (n < clients % processes) for n in range(processes)]
    with ProcessPoolExecutor(processes + 1, mp_context=context) as pool:
        readers = [
            pool.submit(client_process, url, share, 5 if n == 0 else 0, ready, stop)
            for n, share in enumerate(shares)
        ]
        connected = sum(ready.get(timeout=180) for _ in shares)
        rss_before = rss_mb(pid)
        cpu_before, began = cpu_s(pid), time.time()
        load_before = os.getloadavg()
        posts = pool.submit(produce, url, runs_per_s, seconds).result()
        produced_until = time.time()
        rss_loaded = rss_mb(pid)
        load_during = os.getloadavg()
        settle(pid)  # the last runs finish and their events arrive
        cpu = cpu_s(pid) - cpu_before
        wall = time.time() - began - 1.0  # without the idle second `settle` waited
        stop.set()
        results = [reader.result(timeout=120) for reader in readers]
    manager.shutdown()
    frames = [f for r in results for f in r["frames"]]
    seen = [s for r in results for s in r["seen"]]
    expected = max(frames) if frames else 0
    ids = sorted({event_id for probe in seen for event_id, _t, _r in probe})
    in_window = [t for event_id, t, _r in seen[0] if began <= t <= produced_until] if seen else []
    lags = [(read - t) * 1000 for probe in seen for _i, t, read in probe]
    in_order = all([i for i, _t, _r in probe] == sorted({i for i, _t, _r in probe})
                   for probe in seen)  # fmt: skip
    deliveries = sum(frames)
    return {
        "clients": clients,
        "connected": connected,
        "client_processes": processes,
        "tasks_per_run": tasks,
        "events_per_run": per_run,
        "runs_per_s_asked": runs_per_s,
        "runs_started": len(posts),
        "post_runs_p50_ms": percentile(posts, 50) if posts else float("nan"),
        "post_runs_p99_ms": percentile(posts, 99) if posts else float("nan"),
        "events_asked_per_s": events_per_s,
        "events_per_s": len(in_window) / max(1e-9, produced_until - began),
        "events_max": expected,
        "events_logged": (ids[-1] - ids[0] + 1) if ids else 0,
        "probes_in_order_no_duplicates": in_order,
        "clients_with_every_event": sum(1 for f in frames if f == expected),
        "delivered_share_min": (min(frames) / expected) if expected else 0.0,
        "delivered_share": (deliveries / (expected * len(frames))) if expected else 0.0,
        "connections_lost": sum(r["lost"] for r in results),
        "fanout_lag_p50_ms": percentile(lags, 50) if lags else float("nan"),
        "fanout_lag_p99_ms": percentile(lags, 99) if lags else float("nan"),
        "fanout_lag_max_ms": max(lags) if lags else float("nan"),
        "server_cpu_s": cpu,
        "server_cpu_per_s": cpu / wall,
        "server_cpu_us_per_delivery": cpu * 1e6 / max(1, deliveries),
        "rss_before_mb": rss_before,
        "rss_loaded_mb": rss_loaded,
        "load_before": load_before,
        "load_during": load_during,
        "load_after": os.getloadavg(),
    }


def bench_hub(streams: int, events_per_s: float, seconds: float) -> dict[str, Any]:
    """The fan-out alone, in this process: `streams` unfiltered API streams written straight
    to socket pairs (a thread drains the other ends) while the bus publishes `events_per_s`
    in 10 ms batches; the CPU time of the event loop's thread (encoding, joining, writes)."""
    import selectors
    import socket
    import threading
    from types import SimpleNamespace

    from basir.api.routes.events import _topic
    from basir.events.bus import EventBus
    from basir.events.sse import DirectWriter
    from basir.store.records import EventRecord

    pairs = [socket.socketpair() for _ in range(streams)]
    received = [0]
    done = threading.Event()

    def drain() -> None:
        selector = selectors.DefaultSelector()
        for _ours, theirs in pairs:
            theirs.setblocking(False)
            selector.register(theirs, selectors.EVENT_READ)
        while not done.is_set():
            for key, _mask in selector.select(0.1):
                received[0] += len(key.fileobj.recv(1 << 20))  # type: ignore[union-attr]

    async def run() -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        bus = EventBus()
        joined = []
        for ours, _theirs in pairs:
            transport, _protocol = await loop.connect_accepted_socket(asyncio.Protocol, ours)
            cycle = SimpleNamespace(transport=transport, disconnected=False, chunked_encoding=True)
            stream = bus.fanout.join(_topic(None, None, None), DirectWriter(cycle))
            stream.direct = True
            joined.append(stream)
        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        per_batch = max(1, round(events_per_s / 100))
        next_id, began, cpu = 1, time.monotonic(), time.thread_time()
        while time.monotonic() - began < seconds:
            batch = [EventRecord("task.succeeded", f"run/r{next_id // 50}/t{n}", time.time(),
                                 run_id=f"r{next_id // 50}", task_id=f"t{n}", data={"n": n},
                                 id=next_id + n) for n in range(per_batch)]  # fmt: skip
            next_id += per_batch
            bus.publish(batch)
            await asyncio.sleep(max(0.0, began + next_id / events_per_s - time.monotonic()))
        await asyncio.sleep(0.1)
        used = time.thread_time() - cpu
        done.set()
        reader.join()
        return {"events": next_id - 1, "cpu_s": used, "flushes": bus.fanout.flushes,
                "dropped": sum(1 for stream in joined if stream.dropped)}  # fmt: skip

    try:  # the server's loop
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with runner:
        result = runner.run(run())
    deliveries = result["events"] * streams
    return {
        "streams": streams,
        "events_per_s": result["events"] / seconds,
        "loop_cpu_per_s": result["cpu_s"] / seconds,
        "loop_cpu_us_per_delivery": result["cpu_s"] * 1e6 / deliveries,
        "mb_written_per_s": received[0] / seconds / 1e6,
        "streams_dropped": result["dropped"],
        "writes_per_s": result["flushes"] * streams / seconds,
        "load": os.getloadavg(),
    }


def rows(fan: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Table rows for the printed summary."""
    return [
        (f"{fan['clients']} SSE clients ({fan['connected']} live), "
         f"{fan['events_per_s']:.0f} events/s committed (asked {fan['events_asked_per_s']:.0f})",
         f"{fan['clients_with_every_event']}/{fan['clients']} got every event", "all"),
        ("  share delivered (all / worst client)", f"{fan['delivered_share'] * 100:.1f} % / "
         f"{fan['delivered_share_min'] * 100:.1f} %", "100 %"),
        ("  probes in order, no duplicates", str(fan["probes_in_order_no_duplicates"]), "True"),
        ("  lag p50 / p99 / max", f"{fan['fanout_lag_p50_ms']:.1f} / "
         f"{fan['fanout_lag_p99_ms']:.1f} / {fan['fanout_lag_max_ms']:.1f} ms", "p99 ≤ 100 ms"),
        ("  POST /runs meanwhile p50 / p99", f"{fan['post_runs_p50_ms']:.1f} / "
         f"{fan['post_runs_p99_ms']:.1f} ms ({fan['runs_started']} runs)", ""),
        ("  server CPU per second / per delivery", f"{fan['server_cpu_per_s']:.2f} s / "
         f"{fan['server_cpu_us_per_delivery']:.2f} µs", "< 1 core"),
        ("  server RSS with the clients connected / at the end of the load",
         f"{fan['rss_before_mb']:.0f} / {fan['rss_loaded_mb']:.0f} MB", ""),
        ("  load average before / during / after", " / ".join(
            f"{load[0]:.1f}" for load in (fan["load_before"], fan["load_during"],
                                          fan["load_after"])), ""),
    ]  # fmt: skip


def main() -> int:
    """Only part (c), on a fresh server."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--events-per-s", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--processes", type=int, default=4, help="client processes")
    parser.add_argument("--tasks-per-run", type=int, default=TASKS_PER_RUN)
    parser.add_argument("--hub", action="store_true", help="only the fan-out, in process")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "sse_fanout.json")
    args = parser.parse_args()
    if args.hub:
        hub = bench_hub(args.clients, args.events_per_s, args.seconds)
        print(json.dumps(hub, indent=2))
        return 0
    with tempfile.TemporaryDirectory(prefix="basir-sse-bench-") as tmp:
        server = ServerProcess(Path(tmp))
        try:
            fan = bench_fanout(server.url, server.process.pid, args.clients, args.seconds,
                               args.events_per_s, args.processes, args.tasks_per_run)  # fmt: skip
        finally:
            server.stop()
    for name, value, target in rows(fan):
        print(f"{name:<70}{value:<44}{target}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(fan, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
