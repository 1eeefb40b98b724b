"""`kill -9` of `basir server` mid-task, then a restart: never two live attempts of a task.

The restarted server also raises the built-in `worker_lost` alert for each run whose task was
found running, resolved once the run has ended.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

from process_groups import live_members

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from api_e2e import apply_and_start, wait_status  # noqa: E402

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
RUNS = 3


def test_kill_9_then_restart_runs_exactly_one_attempt_of_each_task(
    server_factory: Any, tmp_path: Path, groups: list[int]
) -> None:
    marks, release = tmp_path / "marks", tmp_path / "release"
    spec = f"""\
name: twins
tasks:
  - id: slow
    run: |
      echo "$BASIR_RUN_ID start $BASIR_ATTEMPT $(ps -o pgid= $$)" >> {marks}
      if [ ! -f {release} ]; then sleep 60; fi
      echo "$BASIR_RUN_ID end $BASIR_ATTEMPT" >> {marks}
"""
    server = server_factory().start()
    with server.client() as client:
        run_ids = [apply_and_start(client, spec)["run_id"] for _ in range(RUNS)]
    deadline = time.monotonic() + 60
    while len(_lines(marks)) < RUNS:
        assert time.monotonic() < deadline, _lines(marks)
        time.sleep(0.05)
    server.kill()  # the server alone: each task leads a process group of its own
    pgids = {line.split()[0]: int(line.split()[3]) for line in _lines(marks)}
    groups.extend(pgids.values())
    assert sorted(pgids) == sorted(run_ids)
    assert all(live_members(pgid) for pgid in pgids.values())  # the orphans are there

    release.write_text("")
    server.start()
    with server.client() as client:
        finals = [wait_status(client, r, {"succeeded", "failed"}, 60) for r in run_ids]
        history = client.get(
            "/api/v1/events/history", params={"type": "task.interrupted", "limit": 1000}
        ).json()["items"]
        lost = _worker_lost_alerts(client, RUNS)
    assert [final["status"] for final in finals] == ["succeeded"] * RUNS
    for run_id in run_ids:
        mine = [line.split()[1:3] for line in _lines(marks) if line.startswith(run_id)]
        assert mine == [["start", "1"], ["start", "2"], ["end", "2"]], _lines(marks)
    assert all(live_members(pgid) == [] for pgid in pgids.values())
    stopped = {event["data"]["run_id"]: event["data"] for event in history}
    assert sorted(stopped) == sorted(run_ids)
    for run_id, data in stopped.items():
        assert data["killed_leftover"] is True and data["pgid"] == pgids[run_id]
    # The built-in alert said so, once per run, and resolved when the run ended.
    assert sorted(lost) == sorted(run_ids)
    assert all("ended (it had lost its worker)" in a["message"] for a in lost.values())


def _worker_lost_alerts(client: Any, count: int) -> dict[str, dict[str, Any]]:
    """The built-in `worker_lost` alerts, once `count` of them are resolved (runs ended)."""
    deadline = time.monotonic() + 30
    while True:
        items = client.get("/api/v1/alerts", params={"limit": 100}).json()["items"]
        lost = {a["run_id"]: a for a in items if a["rule"] == "worker_lost"}
        if sum(a["state"] == "resolved" for a in lost.values()) >= count:
            return lost
        assert time.monotonic() < deadline, items
        time.sleep(0.1)


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []
