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
