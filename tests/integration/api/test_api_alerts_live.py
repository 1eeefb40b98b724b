"""The built-in "run failed" alert through a real HTTP server, and `basir alerts …` against it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from api_live import LiveServer, http, wait_for  # noqa: E402

from basir.cli.alerts_cmd import alerts_app  # noqa: E402
from basir.cli.client import ApiClient  # noqa: E402

FAIL = "name: failing\ntasks:\n  - {id: boom, uses: fail, with: {message: broken on purpose}}\n"


@pytest.fixture
def cli(live_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A runner whose environment points `basir alerts` at the live server."""
    monkeypatch.setenv("BASIR_SERVER", live_server.url)
    monkeypatch.setenv("BASIR_TOKEN", live_server.token)
    return CliRunner()


def _alerts(live: LiveServer, **params: str) -> list[dict[str, Any]]:
    with http(live) as client:
        items: list[dict[str, Any]] = client.get("/api/v1/alerts", params=params).json()["items"]
    return items


def test_a_failing_workflow_fires_the_alert_and_the_cli_handles_it(
    cli: CliRunner, live_server: LiveServer
) -> None:
    with ApiClient(live_server.url, live_server.token) as api:
        api.apply_workflow(FAIL)
        run_id = api.start_run("failing")["run_id"]
    wait_for(lambda: len(_alerts(live_server)) == 1)
    (alert,) = _alerts(live_server)
    assert alert["run_id"] == run_id and alert["state"] == "firing"
    assert "broken on purpose" in alert["message"]

    listed = cli.invoke(alerts_app, ["list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.output)["items"][0]["id"] == alert["id"]
    table = cli.invoke(alerts_app, ["list", "--state", "firing"])
    assert alert["id"] in table.output

    acked = cli.invoke(alerts_app, ["ack", alert["id"], "--json"])
    assert acked.exit_code == 0, acked.output
    assert json.loads(acked.output)["acknowledged_by"] == "admin"
    assert cli.invoke(alerts_app, ["ack", "run_failed.nope"]).exit_code == 2

    silenced = cli.invoke(
        alerts_app, ["silence", "--workflow", "failing", "--for", "30m", "--why", "known"]
    )
    assert silenced.exit_code == 0, silenced.output
    with ApiClient(live_server.url, live_server.token) as api:
        second = api.start_run("failing")["run_id"]
    wait_for(lambda: len(_alerts(live_server)) == 2)
    quiet = next(a for a in _alerts(live_server) if a["run_id"] == second)
    assert quiet["silenced_by"] is not None
    with http(live_server) as client:
        events = client.get("/api/v1/events/history", params={"type": "alert.firing"}).json()
    assert [e["data"]["run_id"] for e in events["items"]] == [run_id]
    assert cli.invoke(alerts_app, ["silence", "--why", "x"]).exit_code == 2
