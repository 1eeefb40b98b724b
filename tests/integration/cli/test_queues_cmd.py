"""`basir queues list | set` through the real executable: on the embedded store, and with
`--server` against a real `basir server` process whose queue holds one task while another waits.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from cli_helpers import Cli

TOKEN = "queues-cmd-test-admin-token-0123456789"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
WAIT_S = 30.0
QUEUES = {"BASIR_QUEUES": "builds=1,l2-api=4@10/s"}
HOLD = """\
name: hold
tasks:
  - {id: first, queue: q, run: 'echo "$$" > first.pid; exec sleep 60'}
  - {id: second, queue: q, run: 'exec sleep 60'}
"""


def _queues(cli: Cli, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    done = cli("queues", "list", "--json", *args, env=env)
    assert done.returncode == 0, done.stderr
    shown: dict[str, Any] = json.loads(done.stdout)
    return {q["name"]: q for q in shown["queues"]}


def test_list_shows_the_configured_queues_with_the_stored_limits_on_top(cli: Cli) -> None:
    queues = _queues(cli, env=QUEUES)
    assert (queues["builds"]["slots"], queues["builds"]["rate"]) == (1, None)
    assert (queues["l2-api"]["slots"], queues["l2-api"]["rate"]) == (4, "10/s")
    assert queues["builds"]["in_use"] is None  # only the engine's process knows

    done = cli("queues", "set", "l2-api", "2", env=QUEUES)
    assert done.returncode == 0, done.stderr
    assert "queue l2-api: limit 2@10/s" in done.stdout  # the rate is kept
    assert cli("queues", "set", "mail", "none", "--rate", "60/m", env=QUEUES).returncode == 0
    assert cli("queues", "set", "builds", "3", "--no-rate", env=QUEUES).returncode == 0
    queues = _queues(cli, env=QUEUES)
    assert queues["l2-api"]["limit"] == "2@10/s"
    assert (queues["mail"]["slots"], queues["mail"]["rate"]) == (None, "60/m")
    assert queues["builds"]["limit"] == "3"

    cleared = cli("queues", "set", "l2-api", "2", "--no-rate", "--json", env=QUEUES)
    assert cleared.returncode == 0, cleared.stderr
    assert json.loads(cleared.stdout)["limit"] == "2"

    table = cli("queues", "list", env=QUEUES)
    assert table.returncode == 0, table.stderr
    for word in ("queue", "limit", "rate", "running", "waiting", "longest wait", "60/m"):
        assert word in table.stdout


def test_set_refuses_bad_input_with_exit_2_in_the_users_language(cli: Cli) -> None:
    bad_slots = cli("queues", "set", "builds", "two")
    assert bad_slots.returncode == 2
    assert "two is not a number of slots" in bad_slots.stderr
    bad_rate = cli("queues", "set", "builds", "1", "--rate", "10/d")
    assert bad_rate.returncode == 2 and "10/d is not a rate" in bad_rate.stderr
    both = cli("queues", "set", "builds", "1", "--rate", "1/s", "--no-rate")
    assert both.returncode == 2
    zero = cli("queues", "set", "builds", "0")
    assert zero.returncode == 2
    assert "give slots[@count/unit]" in zero.stderr  # brackets printed, not read as markup
    nothing = cli("queues", "set", "mail", "none")
    assert nothing.returncode == 2
    name = cli("--lang", "ar", "queues", "set", "Builds", "1")
    assert name.returncode == 2
    assert "ليس اسم طابور" in name.stderr
    assert _queues(cli) == {}  # nothing was stored


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_queues_against_a_real_server(cli: Cli, basir_home: Path, tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "BASIR_HOME": str(basir_home),
        "BASIR_ADMIN_TOKEN": TOKEN,
        "BASIR_QUEUES": "q=1",
        "BASIR_SHUTDOWN_GRACE_S": "0",
    }
    bin_dir = Path(__file__).parents[3] / ".venv" / "bin"
    server = subprocess.Popen(
        [str(bin_dir / "basir"), "server", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    remote = ("--server", url, "--token", TOKEN)
    try:

        def up() -> bool:
            try:
                return httpx.get(f"{url}/healthz").status_code == 200
            except httpx.HTTPError:
                return False

        _until(up, "the server")
        yaml = {**HEADERS, "Content-Type": "application/yaml"}
        applied = httpx.post(f"{url}/api/v1/workflows", content=HOLD, headers=yaml)
        assert applied.status_code in {200, 201}, applied.text
        started = httpx.post(f"{url}/api/v1/workflows/hold/runs", json={}, headers=HEADERS)
        assert started.status_code in {200, 201}, started.text

        def one_runs_one_waits() -> bool:
            q = _queues(cli, *remote)["q"]
            return (q["in_use"], q["waiting"]) == (1, 1)

        _until(one_runs_one_waits, "one task in q and one waiting")
        q = _queues(cli, *remote)["q"]
        assert q["longest_wait_s"] >= 0 and q["limit"] == "1"
        table = cli("queues", "list", *remote)
        assert table.returncode == 0, table.stderr
        [row] = [line for line in table.stdout.splitlines() if " q " in line]
        assert [cell.strip() for cell in row.strip("│ ").split("│")][:5] == [
            "q",
            "1",
            "-",
            "1",
            "1",
        ]

        raised = cli("queues", "set", "q", "2", "--rate", "5/s", *remote)
        assert raised.returncode == 0, raised.stderr
        assert "queue q: limit 2@5/s" in raised.stdout

        def both_run() -> bool:
            q = _queues(cli, *remote)["q"]
            return (q["in_use"], q["waiting"]) == (2, 0)

        _until(both_run, "the waiting task to take the new slot")
        kept = cli("queues", "set", "q", "3", "--json", *remote)
        assert kept.returncode == 0, kept.stderr
        assert json.loads(kept.stdout)["limit"] == "3@5/s"  # the rate is kept
        cleared = cli("queues", "set", "q", "3", "--no-rate", "--json", *remote)
        assert json.loads(cleared.stdout)["rate"] is None
        # Kept in the store: the embedded view reads the same limit.
        assert _queues(cli, env={"BASIR_QUEUES": "q=1"})["q"]["limit"] == "3"

        refused = cli("--lang", "ar", "queues", "set", "q", "0", *remote)
        assert refused.returncode == 2  # the server's 422, localised by the server
        assert "ليس" in refused.stderr
        denied = cli("queues", "list", "--server", url, "--token", "x" * 24)
        assert denied.returncode == 2
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    gone = cli("queues", "list", "--server", url)
    assert gone.returncode == 1  # no server there: the operation failed
