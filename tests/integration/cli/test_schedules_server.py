"""A real `basir server` fires a six-field, every-second schedule; the CLI pauses it.

The pause check lets 2.5 s pass on purpose: it shows that nothing happens meanwhile.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
from cli_helpers import Cli, write

TOKEN = "schedule-test-admin-token-0123456789"
EVERY_SECOND = """\
name: tick
on:
  schedule: [{cron: "* * * * * *", timezone: Asia/Riyadh, overlap: allow}]
tasks:
  - {id: a, uses: noop}
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _runs(url: str) -> list[dict[str, object]]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    answer = httpx.get(
        f"{url}/api/v1/runs", params={"workflow": "tick", "limit": 200}, headers=headers
    )
    items: list[dict[str, object]] = answer.json()["items"]
    return items


def _events(url: str, kind: str) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    params = {"type": kind, "workflow": "tick", "limit": 1000}
    answer = httpx.get(f"{url}/api/v1/events/history", params=params, headers=headers)
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def test_server_fires_every_second_and_a_cli_pause_holds(
    cli: Cli, basir_home: Path, tmp_path: Path
) -> None:
    path = write(tmp_path / "tick.yaml", EVERY_SECOND)
    port = _free_port()
    env = {**os.environ, "BASIR_HOME": str(basir_home), "BASIR_ADMIN_TOKEN": TOKEN}
    bin_dir = Path(__file__).parents[3] / ".venv" / "bin"
    server = subprocess.Popen(
        [str(bin_dir / "basir"), "server", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        # Applied on the embedded store while the server runs: picked up without a restart.
        assert cli("workflows", "apply", str(path)).returncode == 0
        while (
            time.monotonic() < deadline and sum(r["status"] == "succeeded" for r in _runs(url)) < 2
        ):
            time.sleep(0.1)
        runs = _runs(url)
        assert sum(r["status"] == "succeeded" for r in runs) >= 2, runs

        listed = cli("schedules", "list", "--json")
        [item] = json.loads(listed.stdout)["items"]
        assert (item["id"], item["cron"], item["paused"]) == ("tick:0", "* * * * * *", False)
        assert item["next_fire"].endswith("+03:00")
        paused = cli("schedules", "pause", "tick", "--json")
        assert paused.returncode == 0 and json.loads(paused.stdout)["items"][0]["paused"]
        remote = httpx.get(
            f"{url}/api/v1/schedules", headers={"Authorization": f"Bearer {TOKEN}"}
        ).json()
        assert remote["items"][0]["paused"] is True
        nxt = cli("schedules", "next", "tick", "-n", "3", "--json")
        assert len(json.loads(nxt.stdout)["items"][0]["next"]) == 3
        # The same from the server: the same schedule, the same fires, in its own zone.
        far = cli("schedules", "next", "tick:0", "-n", "3", "--json", "--server", url,
                  "--token", TOKEN)  # fmt: skip
        assert far.returncode == 0, far.stderr
        [remote_next] = json.loads(far.stdout)["items"]
        assert remote_next["id"] == "tick:0" and len(remote_next["next"]) == 3
        assert all(t.endswith("+03:00") for t in remote_next["next"])
        gone = cli("schedules", "next", "nope", "--server", url, "--token", TOKEN)
        assert gone.returncode == 2
        assert cli("schedules", "pause", "nope").returncode == 2

        # Paused from another process: the server fires nothing (time has to pass to show it).
        before = len(_runs(url))
        time.sleep(2.5)
        assert len(_runs(url)) == before
        assert cli("schedules", "resume", "tick:0").returncode == 0
        while time.monotonic() < deadline + 10 and len(_runs(url)) == before:
            time.sleep(0.1)
        assert len(_runs(url)) > before  # firing again after the resume
        skipped = _events(url, "schedule.skipped")
        assert any(e["data"]["reason"] == "paused" for e in skipped), skipped

        # A backfill requested from the CLI on the embedded store: the server runs it.
        window = [time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(t)) for t in (
            time.time() - 120, time.time() - 118)]  # fmt: skip
        asked = cli("schedules", "backfill", "tick", "--from", window[0], "--to", window[1],
                    "--max-active", "2", "--json")  # fmt: skip
        assert asked.returncode == 0, asked.stderr
        [request] = json.loads(asked.stdout)["items"]
        assert request["fires"] == 3
        while (
            time.monotonic() < deadline + 30
            and sum(
                r.get("trigger") == "backfill" and r["status"] == "succeeded" for r in _runs(url)
            )
            < 3
        ):
            time.sleep(0.1)
        assert sum(r.get("trigger") == "backfill" for r in _runs(url)) == 3

        stats = cli("schedules", "stats", "--window", "10m", "--json")
        assert stats.returncode == 0, stats.stderr
        assert json.loads(stats.stdout)["queues"]["default"]["tasks"] >= 5
        assert cli("schedules", "stats", "--window", "0s").returncode == 2

        # Every subcommand against the server too (`--server URL --token T`).
        remote = ("--server", url, "--token", TOKEN, "--json")
        far_list = cli("schedules", "list", *remote)
        assert far_list.returncode == 0, far_list.stderr
        assert [i["id"] for i in json.loads(far_list.stdout)["items"]] == ["tick:0"]
        far_pause = cli("schedules", "pause", "tick", *remote)
        assert json.loads(far_pause.stdout)["items"][0]["paused"] is True
        local = json.loads(cli("schedules", "list", "--json").stdout)["items"][0]
        assert local["paused"] is True  # stored: the embedded view sees the server's pause
        far_resume = cli("schedules", "resume", "tick:0", *remote)
        assert json.loads(far_resume.stdout)["items"][0]["paused"] is False
        far_stats = cli("schedules", "stats", "--window", "10m", *remote)
        assert far_stats.returncode == 0, far_stats.stderr
        assert json.loads(far_stats.stdout)["queues"]["default"]["tasks"] >= 5
        backwards = cli("schedules", "backfill", "tick", "--from", window[1], "--to", window[0],
                        *remote)  # fmt: skip
        assert backwards.returncode == 2
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
