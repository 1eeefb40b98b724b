"""Resources on a real server: whole-pool tasks wait with a reason, a raised capacity starts
them, the capacity outlives a restart, and impossible requests are refused at apply."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from api_e2e import ADMIN_TOKEN, apply_and_start, wait_status

HOLDERS = """\
name: holders
tasks:
  - {id: one, run: sleep 30, resources: {pools: {gradle: 1}}}
  - {id: two, run: sleep 30, resources: {pools: {gradle: 1}}}
"""


def running_tasks(client: httpx.Client, run_id: str, count: int) -> dict[str, Any]:
    """Poll until `count` tasks of the run are running; the run's tasks then."""
    deadline = time.monotonic() + 30
    tasks: dict[str, Any] = {}
    while time.monotonic() < deadline:
        tasks = client.get(f"/api/v1/runs/{run_id}").json()["tasks"]
        if sum(task["status"] == "running" for task in tasks.values()) == count:
            return tasks
        time.sleep(0.05)
    raise AssertionError(f"not {count} running: {tasks}")


def test_pools_through_a_real_server(server_factory: Any) -> None:
    server = server_factory(BASIR_POOLS="gradle=1").start()
    with server.client(ADMIN_TOKEN) as client:
        run_id = apply_and_start(client, HOLDERS)["run_id"]
        tasks = running_tasks(client, run_id, 1)
        holder = next(name for name, task in tasks.items() if task["status"] == "running")
        waiter = "two" if holder == "one" else "one"
        assert tasks[waiter]["waiting"] == (
            f"waiting for gradle: 1/1 in use by run {run_id} task {holder}"
        )
        shown = server.cli("resources", "status", "--server", server.url, "--json")
        assert shown.returncode == 0, shown.stderr
        status = json.loads(shown.stdout)
        gradle = next(pool for pool in status["pools"] if pool["name"] == "gradle")
        assert (gradle["capacity"], gradle["in_use"]) == (1, 1)
        assert [(w["task_id"], w["pool"]) for w in status["waiting"]] == [(waiter, "gradle")]
        arabic = server.cli("--lang", "ar", "resources", "status", "--server", server.url, "--json")
        assert arabic.returncode == 0, arabic.stderr
        assert [w["reason"] for w in json.loads(arabic.stdout)["waiting"]] == [
            f"في انتظار gradle: 1/1 قيد الاستخدام لدى التشغيل {run_id} المهمة {holder}"
        ]  # the CLI's locale, sent as Accept-Language
        raised = server.cli("resources", "pool", "set", "gradle", "2", "--server", server.url)
        assert raised.returncode == 0, raised.stderr
        running_tasks(client, run_id, 2)
        client.post(f"/api/v1/runs/{run_id}/cancel")
        wait_status(client, run_id, {"cancelled"})
        too_big = "name: big\ntasks:\n  - {id: a, run: x, resources: {pools: {gradle: 3}}}\n"
        refused = client.post(
            "/api/v1/workflows", content=too_big, headers={"Content-Type": "application/yaml"}
        )
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["code"] == "spec.resource_too_large"
    assert server.terminate() == 0
    server.start()
    with server.client(ADMIN_TOKEN) as client:
        pools = client.get("/api/v1/resources").json()["pools"]
        assert {p["name"]: p for p in pools}["gradle"] == {
            "name": "gradle", "capacity": 2, "in_use": 0, "reserved": 0, "holders": [],
            "waiting": 0, "waited_s": 0.0,
        }  # fmt: skip
