"""Export round trip: exported JSON Lines read back equal the API's own records."""

from __future__ import annotations

import csv
import io
import json
import time

import pytest
from monitoring_helpers import Served

HELLO_YAML = """\
name: hello
tasks:
  - {id: greet, uses: echo, with: {message: "مرحبا"}}
  - {id: after, needs: [greet], uses: noop}
"""
BROKEN_YAML = """\
name: broken
tasks:
  - {id: boom, uses: fail, with: {message: "broken, on purpose"}}
"""


def lines(text: str) -> list[dict[str, object]]:
    """JSON Lines → objects."""
    return [json.loads(line) for line in text.splitlines() if line]


async def test_export_round_trip_equals_the_api(served: Served) -> None:
    await served.run(HELLO_YAML)
    await served.run(BROKEN_YAML)
    await served.run(HELLO_YAML)

    exported = await served.client.get("/api/v1/export/runs")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/x-ndjson")
    listed = (await served.client.get("/api/v1/runs", params={"limit": 200})).json()["items"]
    assert lines(exported.text) == listed

    events = lines((await served.client.get("/api/v1/export/events")).text)
    history = (await served.client.get("/api/v1/events/history", params={"limit": 1000})).json()
    assert events == history["items"]

    tasks = lines((await served.client.get("/api/v1/export/tasks")).text)
    assert len(tasks) == 5 and {t["task_id"] for t in tasks} == {"greet", "after", "boom"}
    only = lines(
        (await served.client.get("/api/v1/export/tasks", params={"workflow": "broken"})).text
    )
    assert [(t["task_id"], t["status"]) for t in only] == [("boom", "failed")]

    table = (await served.client.get("/api/v1/export/runs", params={"format": "csv"})).text
    rows = list(csv.DictReader(io.StringIO(table)))
    assert [r["run_id"] for r in rows] == [r["run_id"] for r in listed]
    event_table = (await served.client.get("/api/v1/export/events", params={"format": "csv"})).text
    first = next(csv.DictReader(io.StringIO(event_table)))
    assert json.loads(first["data"])["workflow"] == "hello"

    later = await served.client.get("/api/v1/export/runs", params={"since": str(time.time() + 5)})
    assert later.text == ""
    bad = await served.client.get("/api/v1/export/secrets")
    assert bad.status_code == 422


async def test_parquet_export_reads_back_as_the_api_records(served: Served) -> None:
    import pyarrow.parquet as pq

    await served.run(HELLO_YAML)
    await served.run(BROKEN_YAML)
    exported = await served.client.get("/api/v1/export/runs", params={"format": "parquet"})
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(exported.content))
    listed = (await served.client.get("/api/v1/runs", params={"limit": 200})).json()["items"]
    assert table.to_pylist() == listed
    events = await served.client.get("/api/v1/export/events", params={"format": "parquet"})
    rows = pq.read_table(io.BytesIO(events.content)).to_pylist()
    history = (await served.client.get("/api/v1/events/history", params={"limit": 1000})).json()
    assert [{**row, "data": json.loads(row["data"])} for row in rows] == history["items"]
    empty = await served.client.get(
        "/api/v1/export/tasks", params={"format": "parquet", "since": str(time.time() + 5)}
    )
    assert pq.read_table(io.BytesIO(empty.content)).num_rows == 0


async def test_parquet_without_pyarrow_is_refused_with_a_code(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name, *a)
    )
    refused = await served.client.get(
        "/api/v1/export/runs", params={"format": "parquet"}, headers={"Accept-Language": "ar"}
    )
    assert refused.status_code == 422
    body = refused.json()
    assert body["code"] == "export.parquet_unavailable"
    assert "pyarrow" in body["detail"] and "basir[parquet]" in body["detail"]


async def test_metric_history_exports_in_every_format(served: Served) -> None:
    """The issue names metric history among the exports; `/export/metrics` was a 422."""
    import pyarrow.parquet as pq

    from basir.monitoring.history import HistorySampler

    now = time.time()
    sampler = HistorySampler(served.metrics, served.store, clock=lambda: now)
    await served.run(HELLO_YAML)
    await served.run(BROKEN_YAML)
    await sampler.sample()
    name = "basir_runs_finished_total"

    exported = await served.client.get("/api/v1/export/metrics", params={"name": name})
    assert exported.status_code == 200, exported.text
    points = lines(exported.text)
    assert {p["resolution_s"] for p in points} == {0, 60, 3600}
    raw = {
        json.dumps(p["labels"], sort_keys=True): p["value"] for p in points if not p["resolution_s"]
    }
    assert raw == {
        '{"status": "failed", "workflow": "broken"}': 1.0,
        '{"status": "succeeded", "workflow": "hello"}': 1.0,
    }
    queried = await served.client.get(
        "/api/v1/metrics/query", params={"name": name, "from": str(now - 60), "step": "10s"}
    )
    assert {s["points"][-1][1] for s in queried.json()["series"]} == {1.0}
    assert {p["name"] for p in points} == {name}

    everything = lines((await served.client.get("/api/v1/export/metrics")).text)
    assert {p["name"] for p in everything} >= {name, "basir_queue_depth"}
    broken = lines(
        (await served.client.get("/api/v1/export/metrics", params={"workflow": "broken"})).text
    )
    assert broken and all(p["labels"]["workflow"] == "broken" for p in broken)
    later = await served.client.get("/api/v1/export/metrics", params={"since": str(now + 5)})
    assert later.text == ""

    table = (await served.client.get(f"/api/v1/export/metrics?format=csv&name={name}")).text
    rows = list(csv.DictReader(io.StringIO(table)))
    assert len(rows) == len(points) and json.loads(rows[0]["labels"]) == points[0]["labels"]
    parquet = await served.client.get(f"/api/v1/export/metrics?format=parquet&name={name}")
    read = pq.read_table(io.BytesIO(parquet.content)).to_pylist()
    assert [{**r, "labels": json.loads(r["labels"])} for r in read] == points

    misplaced = await served.client.get("/api/v1/export/runs", params={"name": name})
    assert misplaced.status_code == 422 and misplaced.json()["code"] == "request.invalid"
    assert misplaced.json()["errors"][0]["field"] == "query.name"
