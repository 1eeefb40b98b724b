"""A real server: a task over its memory is stopped (RLIMIT_AS) with its reason; a cancelled
task that started children leaves no process and no temp dir; usage shows beside the task."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from api_e2e import ADMIN_TOKEN, apply_and_start, wait_status

from process_groups import attempt_processes

HOG = f"""\
name: hog
tasks:
  - id: hog
    run: "{sys.executable} -c 'b = bytearray(200 << 20); import time; time.sleep(60)'"
    resources: {{memory: 48Mi}}
"""


def test_memory_limit_and_cleanup_through_a_real_server(
    server_factory: Any, tmp_path: Path
) -> None:
    server = server_factory(BASIR_USAGE_INTERVAL_S="0.2", BASIR_MEMORY_LIMIT="rlimit").start()
    with server.client(ADMIN_TOKEN) as client:
        run_id = apply_and_start(client, HOG)["run_id"]
        wait_status(client, run_id, {"failed"}, timeout_s=30)
        hog = client.get(f"/api/v1/runs/{run_id}").json()["tasks"]["hog"]
        assert hog["error"].startswith("stopped: out of memory at its limit of 48Mi (RLIMIT_AS)")
        assert "MemoryError" in hog["error"]  # the 200 MiB were refused, never held
        events = client.get("/api/v1/events/history", params={"run": run_id}).json()["items"]
        [exceeded] = [e for e in events if e["type"] == "resource.memory_exceeded"]
        assert (exceeded["data"]["reason"], exceeded["data"]["enforced_by"]) == ("oom", "rlimit")

        marker = tmp_path / "tmpdir.txt"
        spawner = f"""\
name: spawner
tasks:
  - id: spawn
    run: 'echo "$TMPDIR $BASIR_ATTEMPT_ID" > {marker}; sleep 300 & sleep 300 & wait'
"""
        run_id = apply_and_start(client, spawner)["run_id"]
        deadline = time.monotonic() + 30
        task: dict[str, Any] = {}
        while time.monotonic() < deadline:
            task = client.get(f"/api/v1/runs/{run_id}").json()["tasks"]["spawn"]
            if marker.exists() and task.get("usage", {}).get("processes", 0) >= 3:
                break
            time.sleep(0.1)
        assert task["usage"]["processes"] >= 3  # the shell and its two sleeps, measured live
        tmp_text, attempt_id = marker.read_text().split()
        tmp_dir = Path(tmp_text)
        assert tmp_dir.is_dir() and attempt_processes(attempt_id)
        client.post(f"/api/v1/runs/{run_id}/cancel")
        wait_status(client, run_id, {"cancelled"}, timeout_s=30)
    assert attempt_processes(attempt_id) == []
    assert not tmp_dir.exists()
    assert server.terminate() == 0
