"""Preemption in a real `basir server` with one slot: a low run's task yields to a critical run.

`bulk` (low, preemptible, no retries) marks its first attempt and sleeps a minute; once the
mark is there a critical run is requested over HTTP.  The server stops `bulk`, runs the
critical task in its slot, then runs `bulk` again: both runs succeed, `GET /runs/{id}` shows
`preemptions: 1` with `attempts: 1`, the event history has `task.preempted` naming the
critical run, and `/metrics` counts it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

TOKEN = "preemption-test-admin-token-0123456789"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
WAIT_S = 30.0

BULK = """\
name: bulk
priority: low
tasks:
  - id: bulk
    preemptible: true
    retries: 0
    run: |
      echo "$$" >> bulk.attempts
      [ "$(wc -l < bulk.attempts)" -gt 1 ] || exec sleep 60
"""
URGENT = """\
name: urgent
priority: critical
tasks:
  - {id: fix, run: 'echo fixed'}
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _until(check: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _finished(url: str, run_id: str) -> dict[str, Any]:
    answer: dict[str, Any] = {}

    def done() -> bool:
        answer.update(httpx.get(f"{url}/api/v1/runs/{run_id}", headers=HEADERS).json())
        return answer["status"] in {"succeeded", "failed", "cancelled"}

    _until(done, f"run {run_id}")
    return answer


def test_a_server_preempts_a_low_run_for_a_critical_one(basir_home: Path, tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "BASIR_HOME": str(basir_home),
        "BASIR_ADMIN_TOKEN": TOKEN,
        "BASIR_MAX_PARALLEL": "1",
    }
    bin_dir = Path(__file__).parents[3] / ".venv" / "bin"
    server = subprocess.Popen(
        [str(bin_dir / "basir"), "server", "--port", str(port)],
        env=env,
        cwd=tmp_path,  # where the tasks run
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            try:
                return httpx.get(f"{url}/healthz").status_code == 200
            except httpx.HTTPError:
                return False

        _until(up, "the server")
        yaml = {**HEADERS, "Content-Type": "application/yaml"}
        for spec in (BULK, URGENT):
            applied = httpx.post(f"{url}/api/v1/workflows", content=spec, headers=yaml)
            assert applied.status_code in {200, 201}, applied.text
        low = httpx.post(f"{url}/api/v1/workflows/bulk/runs", json={}, headers=HEADERS).json()
        mark = tmp_path / "bulk.attempts"
        _until(mark.exists, "bulk's first attempt")
        urgent = httpx.post(f"{url}/api/v1/workflows/urgent/runs", json={}, headers=HEADERS)
        urgent_id = urgent.json()["run_id"]

        assert _finished(url, urgent_id)["status"] == "succeeded"
        shown = _finished(url, low["run_id"])
        assert shown["status"] == "succeeded"
        bulk = shown["tasks"]["bulk"]
        assert (bulk["attempts"], bulk["preemptions"]) == (1, 1)  # its retry budget intact
        assert len(set(mark.read_text().split())) == 2  # two processes: stopped, then ran

        params = {"type": "task.preempted", "workflow": "bulk", "limit": 10}
        history = httpx.get(f"{url}/api/v1/events/history", params=params, headers=HEADERS)
        [event] = history.json()["items"]
        data = event["data"]
        assert (data["run_id"], data["task_id"]) == (low["run_id"], "bulk")
        assert (data["by_run_id"], data["by_task_id"], data["reason"]) == (
            urgent_id,
            "fix",
            "slots",
        )

        metrics = httpx.get(f"{url}/metrics").text
        assert 'basir_preemptions_total{workflow="bulk"} 1.0' in metrics
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
