"""Run control over HTTP with timing: pause, resume, cancel (processes killed), retry, PATCH."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from api_e2e import Server, apply_and_start, wait_status  # noqa: E402

CANCEL_WITHIN_S = 5.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _task(client: object, run_id: str, task: str) -> dict[str, object]:
    run = client.get(f"/api/v1/runs/{run_id}").json()  # type: ignore[attr-defined]
    entry: dict[str, object] = run["tasks"][task]
    return entry


def _wait_task(client: object, run_id: str, task: str, status: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _task(client, run_id, task)["status"] == status:
            return
        time.sleep(0.05)
    raise AssertionError(f"{task} is {_task(client, run_id, task)['status']}, not {status}")


def test_pause_lets_running_finish_and_starts_nothing_new(server: Server, tmp_path: Path) -> None:
    spec = f"""\
name: pausable
tasks:
  - {{id: first, run: "sleep 1; echo done > {tmp_path}/first"}}
  - {{id: second, needs: [first], run: "echo ran > {tmp_path}/second"}}
"""
    with server.client() as client:
        run = apply_and_start(client, spec)
        run_id = run["run_id"]
        _wait_task(client, run_id, "first", "running")
        paused = client.post(f"/api/v1/runs/{run_id}/pause").json()
        assert paused["status"] == "paused"
        _wait_task(client, run_id, "first", "succeeded")
        time.sleep(1.0)
        assert _task(client, run_id, "second")["status"] in ("pending", "queued")
        assert not (tmp_path / "second").exists()
        assert client.post(f"/api/v1/runs/{run_id}/resume").json()["status"] == "running"
        assert wait_status(client, run_id, {"succeeded"})["status"] == "succeeded"
        assert (tmp_path / "second").read_text() == "ran\n"


def test_cancel_kills_running_processes_within_seconds(server: Server, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    spec = f"""\
name: cancellable
tasks:
  - {{id: long, run: "echo $$ > {pid_file}; sleep 120"}}
"""
    with server.client() as client:
        run = apply_and_start(client, spec)
        _wait_task(client, run["run_id"], "long", "running")
        deadline = time.monotonic() + 10
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        pid = int(pid_file.read_text())
        began = time.monotonic()
        assert client.post(f"/api/v1/runs/{run['run_id']}/cancel").status_code == 200
        final = wait_status(client, run["run_id"], {"cancelled"}, timeout_s=CANCEL_WITHIN_S)
        assert time.monotonic() - began < CANCEL_WITHIN_S
        assert final["tasks"]["long"]["status"] == "cancelled"
        while _alive(pid) and time.monotonic() - began < CANCEL_WITHIN_S:
            time.sleep(0.05)
        assert not _alive(pid), "the task's process survived the cancel"


def test_retry_and_patch(server: Server, tmp_path: Path) -> None:
    flag = tmp_path / "ok"
    spec = f"""\
name: flaky
tasks:
  - {{id: check, run: "test -f {flag}"}}
  - {{id: after, needs: [check], uses: noop}}
"""
    with server.client() as client:
        run = apply_and_start(client, spec)
        assert wait_status(client, run["run_id"], {"failed"})["tasks"]["after"]["status"] == (
            "upstream_failed"
        )
        flag.write_text("")
        assert client.post(f"/api/v1/runs/{run['run_id']}/retry").status_code == 200
        final = wait_status(client, run["run_id"], {"succeeded", "failed"})
        assert final["status"] == "succeeded"
        assert final["run_id"] == run["run_id"]

        slow = apply_and_start(
            client, "name: grow\ntasks:\n  - {id: base, uses: sleep, with: {seconds: 2}}\n"
        )
        patched = client.patch(
            f"/api/v1/runs/{slow['run_id']}",
            json={
                "tasks": [
                    {"id": "added", "needs": ["base"], "uses": "echo", "with": {"message": "late"}}
                ]
            },
        )
        assert patched.status_code == 200, patched.text
        final = wait_status(client, slow["run_id"], {"succeeded", "failed"})
        assert final["tasks"]["added"]["outputs"] == {"message": "late"}
        history = client.get(
            "/api/v1/events/history", params={"run": slow["run_id"], "limit": 1000}
        ).json()["items"]
        assert any(event["data"].get("by") == "admin" for event in history)


def test_hold_a_task_then_release_it(server: Server) -> None:
    spec = """\
name: holdable
tasks:
  - {id: a, uses: sleep, with: {seconds: 1}}
  - {id: b, needs: [a], uses: noop}
"""
    with server.client() as client:
        run = apply_and_start(client, spec)
        held = client.post(f"/api/v1/runs/{run['run_id']}/tasks/b/pause", json={})
        assert held.status_code == 200 and held.json()["held"] is True
        _wait_task(client, run["run_id"], "a", "succeeded")
        time.sleep(1.0)
        assert _task(client, run["run_id"], "b")["status"] != "succeeded"
        assert client.post(f"/api/v1/runs/{run['run_id']}/tasks/b/resume").json()["held"] is False
        assert wait_status(client, run["run_id"], {"succeeded"})["status"] == "succeeded"
