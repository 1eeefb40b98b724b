"""Reservations and quotas on a real HTTP server (SQLite file), driven by `basir resources`."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from api_live import LiveServer, http, wait_for  # noqa: E402

from basir.cli import resources_cmd  # noqa: E402
from basir.cli.client import ApiClient, ApiError  # noqa: E402

HALF_CPU = (
    "name: half\ntasks:\n  - {id: a, uses: sleep, with: {seconds: 30}, resources: {cpu: 0.5}}\n"
)
MOBILE = "name: app\nnamespace: mobile\ntasks:\n  - {id: a, uses: sleep, with: {seconds: 30}}\n"


@pytest.fixture
def cli(live_server: LiveServer) -> Any:
    """`cli(*args)` runs `basir resources ARGS --server URL --token T` in this process."""
    app = typer.Typer()
    resources_cmd.register(app)
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        server = ("--server", live_server.url, "--token", live_server.token)
        return runner.invoke(app, ["resources", *args, *server])

    return invoke


def _task(live: LiveServer, run_id: str) -> dict[str, Any]:
    with http(live) as client:
        task: dict[str, Any] = client.get(f"/api/v1/runs/{run_id}").json()["tasks"]["a"]
    return task


def test_a_reservation_keeps_a_task_out_until_unreserved(cli: Any, live_server: LiveServer) -> None:
    now = time.time()
    cpus = live_server.engine.resources_status()["pools"]
    total = next(p["capacity"] for p in cpus if p["name"] == "cpu")
    window = ("--from", datetime.fromtimestamp(now - 60, UTC).isoformat(),
              "--to", datetime.fromtimestamp(now + 3600, UTC).isoformat())  # fmt: skip
    made = cli("reserve", "cpu", str(total), "--namespace", "release", *window, "--json")
    assert made.exit_code == 0, made.output
    reservation = json.loads(made.output)
    assert reservation["active"] is True
    with ApiClient(live_server.url, live_server.token) as api:
        api.apply_workflow(HALF_CPU)
        run_id = api.start_run("half")["run_id"]
    wait_for(
        lambda: (
            "reserved for namespace release" in (_task(live_server, run_id).get("waiting") or "")
        )
    )
    status = cli("status")
    assert status.exit_code == 0 and "reserved for namespace release" in status.output
    listed = cli("reservations")
    assert reservation["id"] in listed.output and "active until" in listed.output
    gone = cli("unreserve", reservation["id"])
    assert gone.exit_code == 0, gone.output
    wait_for(lambda: _task(live_server, run_id)["status"] == "running")
    assert cli("unreserve", reservation["id"]).exit_code == 2
    with http(live_server) as client:
        client.post(f"/api/v1/runs/{run_id}/cancel")


def test_a_refuse_quota_refuses_the_second_run(cli: Any, live_server: LiveServer) -> None:
    done = cli("quota", "set", "mobile", "--runs", "1", "--policy", "refuse", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["policy"] == "refuse"
    with ApiClient(live_server.url, live_server.token) as api:
        api.apply_workflow(MOBILE)
        first = api.start_run("app")["run_id"]
        with pytest.raises(ApiError) as refused:
            api.start_run("app")
        assert refused.value.status == 429 and refused.value.code == "quota.exceeded"
    listed = cli("quota", "list", "--json")
    assert [q["namespace"] for q in json.loads(listed.output)] == ["mobile"]
    with http(live_server) as client:
        client.post(f"/api/v1/runs/{first}/cancel")
