"""Every route of the API over real HTTP against a `basir server` process."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from api_e2e import Server, apply_and_start, wait_status  # noqa: E402

HELLO = """\
name: hello
params: {who: {type: string, default: world}}
tasks:
  - {id: greet, uses: echo, with: {message: "hi ${{ params.who }}"}}
  - {id: talk, needs: [greet], run: "echo one; echo two; echo three"}
"""


def test_probes_and_docs(server: Server) -> None:
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{server.url}/readyz").json()["status"] == "ready"
    metrics = httpx.get(f"{server.url}/metrics").text
    assert "basir_runs" in metrics and "basir_store_commit_seconds" in metrics
    schema = httpx.get(f"{server.url}/openapi.json").json()
    assert "/api/v1/runs/{run_id}/tasks/{task_id}/logs" in schema["paths"]
    assert httpx.get(f"{server.url}/docs").status_code == 200


def test_auth_and_problems(server: Server) -> None:
    anonymous = httpx.get(f"{server.url}/api/v1/runs")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    with server.client() as client:
        arabic = client.get("/api/v1/runs/ghost", headers={"Accept-Language": "ar"})
        assert arabic.status_code == 404 and arabic.json()["code"] == "run.not_found"
        assert arabic.headers["content-language"] == "ar"
        too_big = client.post(
            "/api/v1/workflows",
            content=b"x" * (10 * 1024 * 1024 + 1),
            headers={"Content-Type": "application/yaml"},
        )
        assert too_big.status_code == 413 and too_big.json()["code"] == "request.too_large"


def test_workflows_runs_logs_events(server: Server) -> None:
    with server.client() as client:
        run = apply_and_start(client, HELLO, params={"who": "e2e"}, priority="high")
        final = wait_status(client, run["run_id"], {"succeeded", "failed"})
        assert final["status"] == "succeeded", final
        assert final["tasks"]["greet"]["outputs"] == {"message": "hi e2e"}
        assert client.get("/api/v1/workflows").json()["items"][0]["name"] == "hello"
        assert client.get("/api/v1/workflows/hello").json()["version"] == 1
        assert len(client.get("/api/v1/workflows/hello/versions").json()["items"]) == 1
        assert client.get("/api/v1/workflows/hello/versions/1").json()["spec"]["name"] == "hello"
        listed = client.get("/api/v1/runs", params={"workflow": "hello", "limit": 10}).json()
        assert run["run_id"] in [r["run_id"] for r in listed["items"]]
        logs = client.get(f"/api/v1/runs/{run['run_id']}/tasks/talk/logs", params={"tail": 2})
        assert logs.text == "two\nthree\n"
        history = client.get("/api/v1/events/history", params={"run": run["run_id"]}).json()
        assert history["items"][-1]["type"] == "run.succeeded"


def test_decisions(server: Server) -> None:
    with server.client() as client:
        apply_and_start(client, HELLO)
        decision = {"decision_id": "e2e-1", "workflow": "hello", "params": {"who": "L2"}}
        first = client.post("/api/v1/decisions", json=decision)
        assert first.status_code == 201
        again = client.post("/api/v1/decisions", json=decision)
        assert again.status_code == 200 and again.json()["run_id"] == first.json()["run_id"]
        wait_status(client, first.json()["run_id"], {"succeeded"})
        shown = client.get("/api/v1/decisions/e2e-1").json()
        assert shown["status"] == "succeeded"
        assert shown["outcome"]["tasks"]["greet"]["outputs"] == {"message": "hi L2"}


def test_cli_against_the_server(server: Server) -> None:
    with server.client() as client:
        run = apply_and_start(client, HELLO)
        wait_status(client, run["run_id"], {"succeeded"})
    listed = server.cli("runs", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert run["run_id"] in [r["run_id"] for r in json.loads(listed.stdout)["items"]]
    shown = server.cli("runs", "show", run["run_id"])
    assert shown.returncode == 0 and "greet" in shown.stdout
    logs = server.cli("runs", "logs", run["run_id"], "talk", "--tail", "1")
    assert logs.stdout == "three\n"
    missing = server.cli("runs", "show", "ghost", "--lang", "ar")
    assert missing.returncode == 2
