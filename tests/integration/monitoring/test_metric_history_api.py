"""After a workload, the built-in history answers `/api/v1/metrics` and `/metrics/query`."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from monitoring_helpers import Served

from basir.monitoring.history import HistorySampler

HELLO_YAML = """\
name: hello
tasks:
  - {id: greet, uses: echo, with: {message: hi}}
"""
BROKEN_YAML = """\
name: broken
tasks:
  - {id: boom, uses: fail}
"""


async def test_history_returns_points_after_a_workload(served: Served) -> None:
    clock = [time.time() - 20]
    sampler = HistorySampler(served.metrics, served.store, clock=lambda: clock[0])
    await sampler.sample()  # before: nothing finished yet
    assert (await served.run(HELLO_YAML))["status"] == "succeeded"
    assert (await served.run(HELLO_YAML))["status"] == "succeeded"
    assert (await served.run(BROKEN_YAML))["status"] == "failed"
    clock[0] += 10
    await sampler.sample()

    names = (await served.client.get("/api/v1/metrics")).json()["names"]
    assert "basir_runs_finished_total" in names and "basir_queue_depth" in names
    assert all(name.startswith("basir_") for name in names)

    since = datetime.fromtimestamp(clock[0] - 60, UTC).isoformat()
    response = await served.client.get(
        "/api/v1/metrics/query",
        params={
            "name": "basir_runs_finished_total",
            "from": since,
            "step": "10s",
            "by": "workflow",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["resolution"] == 0 and body["step"] == 10 and body["by"] == "workflow"
    last = {s["labels"]["workflow"]: s["points"][-1][1] for s in body["series"]}
    assert last == {"hello": 2.0, "broken": 1.0}

    per_status = await served.client.get(
        "/api/v1/metrics/query",
        params={"name": "basir_runs_finished_total", "from": str(clock[0] - 60), "step": "60"},
    )
    labels = [s["labels"] for s in per_status.json()["series"]]
    assert {"status": "failed", "workflow": "broken"} in labels
    assert per_status.json()["resolution"] == 60

    depth = await served.client.get(
        "/api/v1/metrics/query", params={"name": "basir_queue_depth", "step": "10s"}
    )
    assert len(depth.json()["series"][0]["points"]) == 2  # the two samples


async def test_a_bad_query_is_a_located_problem(served: Served) -> None:
    for params, where in (
        ({"name": "basir_x", "step": "often"}, "query.step"),
        ({"name": "basir_x", "from": "yesterday"}, "query.from"),
        ({"name": "rm -rf"}, "query.name"),
        ({"name": "basir_x", "by": "a b"}, "query.by"),
    ):
        response = await served.client.get(
            "/api/v1/metrics/query", params=params, headers={"Accept-Language": "ar"}
        )
        assert response.status_code == 422, response.text
        problem = response.json()
        assert problem["code"] == "metrics.bad_query"
        assert problem["errors"][0]["field"] == where
    missing = await served.client.get("/api/v1/metrics/query")
    assert missing.status_code == 422
