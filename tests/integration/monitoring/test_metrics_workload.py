"""A workload on a real engine and SQLite moves every `basir_*` metric."""

from __future__ import annotations

import asyncio

from monitoring_helpers import Served
from prometheus_client.parser import text_string_to_metric_families
from starlette.types import Message

MIXED_YAML = """\
name: mixed
deadline: 200ms
tasks:
  - id: ok
    uses: noop
  - id: flaky
    uses: fail
    retries: {max: 1, delay: 10ms}
  - id: slow
    uses: sleep
    with: {seconds: 0.4}
"""

HELLO_YAML = """\
name: hello
tasks:
  - id: greet
    uses: echo
    with: {message: hi}
"""


def scrape(text: str) -> dict[str, float]:
    """Sum each family's samples (buckets aside) by sample name and labels."""
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.endswith(("_bucket", "_created")):
                continue
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            values[f"{sample.name}{{{labels}}}"] = sample.value
    return values


async def sse_gauge_while_open(served: Served) -> float:
    """Open one event stream, read the SSE gauge while it is open, then close it."""
    opened = asyncio.Event()
    gone = asyncio.Event()
    requested = False

    async def receive() -> Message:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            opened.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/v1/events",
        "raw_path": b"/api/v1/events",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"authorization", f"Bearer {served.token}".encode())],
        "client": ("127.0.0.1", 1234),
        "server": ("test", 80),
    }
    stream = asyncio.create_task(served.app(scope, receive, send))
    await asyncio.wait_for(opened.wait(), 5)
    value = served.metrics.sse_clients._value.get()
    gone.set()
    await asyncio.wait_for(stream, 5)
    return float(value)


async def test_a_workload_moves_every_metric(served: Served) -> None:
    before = scrape((await served.client.get("/metrics")).text)
    ok = await served.run(HELLO_YAML)
    assert ok["status"] == "succeeded"
    failed = await served.run(MIXED_YAML)
    assert failed["status"] == "failed"
    assert await sse_gauge_while_open(served) == 1.0
    assert served.metrics.sse_clients._value.get() == 0.0
    after = scrape((await served.client.get("/metrics")).text)

    assert after["basir_runs_finished_total{status=succeeded,workflow=hello}"] == 1
    assert after["basir_runs_finished_total{status=failed,workflow=mixed}"] == 1
    assert after["basir_task_retries_total{workflow=mixed}"] == 1
    assert after["basir_deadline_misses_total{workflow=mixed}"] == 1
    assert after["basir_task_attempts_finished_total{status=failed}"] == 2
    assert after["basir_task_duration_seconds_count{status=succeeded,workflow=mixed}"] == 2
    assert after["basir_task_duration_seconds_sum{status=succeeded,workflow=mixed}"] >= 0.4
    assert after["basir_queue_wait_seconds_count{workflow=hello}"] == 1
    assert after["basir_schedule_latency_seconds_count{}"] == 5
    assert after["basir_store_commit_seconds_count{}"] > 0
    assert after["basir_store_batch_size_sum{}"] > after["basir_store_batch_size_count{}"]
    http = (
        "basir_http_request_duration_seconds_count"
        "{method=POST,route=/api/v1/workflows/{name}/runs,status=2xx}"
    )
    assert after[http] == 2
    assert (
        "basir_http_request_duration_seconds_count{method=GET,route=/api/v1/events,status=2xx}"
        in after
    )
    # Gauges of active runs: none left; the families are present with zeros.
    assert after.get("basir_runs{state=running}", 0) == 0
    assert after["basir_queue_depth{}"] == 0
    moved = {name.split("{")[0] for name in after if after[name] != before.get(name, 0)}
    expected = {
        "basir_runs_finished_total",
        "basir_task_retries_total",
        "basir_deadline_misses_total",
        "basir_task_attempts_finished_total",
        "basir_task_duration_seconds_count",
        "basir_queue_wait_seconds_count",
        "basir_schedule_latency_seconds_count",
        "basir_store_commit_seconds_count",
        "basir_store_batch_size_count",
        "basir_http_request_duration_seconds_count",
    }
    assert expected <= moved


async def test_state_gauges_count_a_live_run(served: Served) -> None:
    slow = "name: slow\ntasks:\n  - {id: nap, uses: sleep, with: {seconds: 30}}\n"
    await served.client.post(
        "/api/v1/workflows", content=slow, headers={"Content-Type": "application/yaml"}
    )
    run = (await served.client.post("/api/v1/workflows/slow/runs", json={})).json()
    while served.engine.flow.slots_used == 0:  # the attempt is running once its slot is taken
        await asyncio.sleep(0.01)
    live = scrape((await served.client.get("/metrics")).text)
    assert live["basir_runs{state=running}"] == 1
    assert live["basir_tasks{state=running}"] == 1
    await served.client.post(f"/api/v1/runs/{run['run_id']}/cancel")
    await served.engine.wait(run["run_id"])
    done = scrape((await served.client.get("/metrics")).text)
    assert done["basir_runs{state=running}"] == 0
    assert done["basir_runs_finished_total{status=cancelled,workflow=slow}"] == 1
