"""Queues and run limits on a real server: same-key runs serialise while other keys proceed,
a task waits for its queue saying who holds it, and an unknown queue is refused at apply."""

from __future__ import annotations

import time
from typing import Any

import httpx
from api_e2e import ADMIN_TOKEN, apply_and_start, wait_status

BRANCHES = """\
name: branches
params: {branch: {default: main}}
concurrency_key: "${{ params.branch }}"
tasks:
  - {id: build, run: sleep 30, queue: builds}
"""


def statuses(client: httpx.Client, run_ids: list[str]) -> list[str]:
    return [client.get(f"/api/v1/runs/{run_id}").json()["status"] for run_id in run_ids]


def until(check: Any, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_keys_and_queues_through_a_real_server(server_factory: Any) -> None:
    server = server_factory(BASIR_QUEUES="builds=1").start()
    with server.client(ADMIN_TOKEN) as client:
        main1 = apply_and_start(client, BRANCHES, params={"branch": "main"})["run_id"]
        start = "/api/v1/workflows/branches/runs"
        main2 = client.post(start, json={"params": {"branch": "main"}}).json()["run_id"]
        dev = client.post(start, json={"params": {"branch": "dev"}}).json()["run_id"]
        until(lambda: statuses(client, [main1, main2, dev]) == ["running", "queued", "running"])
        # dev's run is active but its task waits for the one `builds` slot, held by main1.
        until(lambda: client.get(f"/api/v1/runs/{dev}").json()["tasks"]["build"]["waiting"])
        waiting = client.get(f"/api/v1/runs/{dev}").json()["tasks"]["build"]["waiting"]
        assert waiting == f"waiting for queue builds: 1/1 in use by run {main1} task build"
        events = client.get("/api/v1/events/history", params={"run": main2}).json()["items"]
        reason = next(e["data"]["reason"] for e in events if e["type"] == "run.waiting")
        assert reason == f"waiting for concurrency key main: 1/1 in use by run {main1}"
        shown = client.get("/api/v1/queues").json()
        builds = next(q for q in shown["queues"] if q["name"] == "builds")
        assert (builds["limit"], builds["in_use"]) == ("1", 1)
        assert builds["holders"] == [{"run_id": main1, "task_id": "build"}]
        assert [(w["run_id"], w["on"]) for w in shown["waiting"]] == [(dev, "queue:builds")]
        assert shown["runs_waiting"] == [
            {"run_id": main2, "workflow": "branches", "reason": reason}
        ]
        # A second `builds` slot, set at run time: dev's task starts beside main1's.
        raised = client.put("/api/v1/queues/builds", json={"limit": 2})
        assert raised.status_code == 200, raised.text
        assert (raised.json()["limit"], raised.json()["in_use"]) == ("2", 1)
        until(
            lambda: (
                client.get(f"/api/v1/runs/{dev}").json()["tasks"]["build"]["status"] == "running"
            )
        )
        bad = client.put("/api/v1/queues/builds", json={"limit": "fast"})
        assert (bad.status_code, bad.json()["code"]) == (422, "queues.invalid_limit")
        client.post(f"/api/v1/runs/{main1}/cancel")
        wait_status(client, main1, {"cancelled"})
        until(lambda: statuses(client, [main2])[0] == "running")
        for run_id in (main2, dev):
            client.post(f"/api/v1/runs/{run_id}/cancel")
            wait_status(client, run_id, {"cancelled"})
        lost = "name: lost\ntasks:\n  - {id: a, run: x, queue: nightly}\n"
        refused = client.post(
            "/api/v1/workflows", content=lost, headers={"Content-Type": "application/yaml"}
        )
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["code"] == "spec.unknown_queue"
        added = client.put("/api/v1/queues/nightly", json={"limit": "@60/m"})
        assert added.status_code == 200, added.text
        accepted = client.post(
            "/api/v1/workflows", content=lost, headers={"Content-Type": "application/yaml"}
        )
        assert accepted.status_code == 201, accepted.text
    assert server.terminate() == 0
