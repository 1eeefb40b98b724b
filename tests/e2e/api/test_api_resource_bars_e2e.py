"""The resource manager's bars on a real `basir server` process, driven by the `basir` CLI and
HTTP: whole-pool tasks never overlap, fractional cpu and sizes run together, impossible requests
are refused at run with their place, waiting reasons show in the API, `resources status` and
`runs show`, a reservation keeps others out in its window, quotas queue and refuse, and a task
that leaks children — backgrounded, `setsid`, double-forked — leaves none, nor its TMPDIR,
whether it ends or is cancelled; a pool added through the CLI outlives a restart."""

from __future__ import annotations

import itertools
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from api_e2e import ADMIN_TOKEN, Server, apply_and_start, wait_status

from process_groups import attempt_processes

POOLS = {"BASIR_POOLS": "gradle=1,cpu=2", "BASIR_MEMORY_LIMIT": "sampler"}

WHOLE_POOL = """\
name: whole
tasks:
  - {id: a, run: "sleep 0.4", resources: {pools: {gradle: 1}}}
  - {id: b, run: "sleep 0.4", resources: {pools: {gradle: 1}}}
  - {id: c, run: "sleep 0.4", resources: {pools: {gradle: 1}}}
"""

FRACTIONS = """\
name: fractions
defaults: {resources: {cpu: 0.5, memory: 64Mi}}
tasks:
  - {id: a, run: "sleep 1.5"}
  - {id: b, run: "sleep 1.5"}
  - {id: c, run: "sleep 1.5", resources: {cpu: 0.25, memory: 32Mi}}
  - {id: d, run: "sleep 1.5", resources: {cpu: 0.75, memory: 0.5Gi}}
"""

NEVER_FITS = """\
name: never
tasks:
  - id: build
    run: "true"
    resources: {cpu: 0.5, pools: {gradle: 2}}
"""


def intervals(run: dict[str, Any]) -> list[tuple[float, float]]:
    """Each task's (started, finished) in seconds since the epoch, in start order."""
    spans = []
    for task in run["tasks"].values():
        started = datetime.fromisoformat(task["started_at"].replace("Z", "+00:00"))
        finished = datetime.fromisoformat(task["finished_at"].replace("Z", "+00:00"))
        spans.append((started.timestamp(), finished.timestamp()))
    return sorted(spans)


def cli_run(server: Server, path: Path) -> dict[str, Any]:
    """`basir run FILE --server URL --json` to its end; the run as the server shows it."""
    done = server.cli("run", str(path), "--server", server.url, "--json")
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    with server.client(ADMIN_TOKEN) as client:
        run: dict[str, Any] = client.get(f"/api/v1/runs/{result['run_id']}").json()
    return run


def test_whole_pools_fractions_and_refusals_through_the_cli(
    server_factory: Any, tmp_path: Path
) -> None:
    server = server_factory(**POOLS).start()
    whole = cli_run(server, write(tmp_path / "whole.yaml", WHOLE_POOL))
    spans = intervals(whole)
    assert whole["status"] == "succeeded" and len(spans) == 3
    assert all(end <= start for (_s, end), (start, _e) in itertools.pairwise(spans))

    fractions = cli_run(server, write(tmp_path / "fractions.yaml", FRACTIONS))
    spans = intervals(fractions)
    assert fractions["status"] == "succeeded"
    assert max(start for start, _end in spans) < min(end for _start, end in spans)  # all at once

    never = write(tmp_path / "never.yaml", NEVER_FITS)
    refused = server.cli("run", str(never), "--server", server.url)
    assert refused.returncode == 2
    assert f"{never}:5:35: tasks[0].resources.pools.gradle: task build asks for 2" in (
        refused.stderr
    )
    with server.client(ADMIN_TOKEN) as client:
        assert client.get("/api/v1/workflows/never").status_code == 404  # nothing stored
    assert server.terminate() == 0


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def waiting_of(client: httpx.Client, run_id: str, task_id: str, part: str) -> str:
    """Poll until the task's `waiting` reason contains `part`; the reason."""
    deadline = time.monotonic() + 30
    reason = ""
    while time.monotonic() < deadline:
        reason = client.get(f"/api/v1/runs/{run_id}").json()["tasks"][task_id].get("waiting", "")
        if part in (reason or ""):
            return str(reason)
        time.sleep(0.05)
    raise AssertionError(f"{task_id} not waiting for {part!r}: {reason!r}")


def status_of(client: httpx.Client, run_id: str, task_id: str, status: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if client.get(f"/api/v1/runs/{run_id}").json()["tasks"][task_id]["status"] == status:
            return
        time.sleep(0.05)
    raise AssertionError(f"{task_id} never {status}")


BUILD = "name: {name}\nnamespace: {namespace}\ntasks:\n  - {{id: a, run: 'sleep 30', {extra}}}\n"


def test_reservations_and_quotas_through_the_cli(server_factory: Any) -> None:
    server = server_factory(**POOLS).start()
    now = datetime.now(UTC)
    window = ("--from", (now - timedelta(minutes=1)).isoformat(),
              "--to", (now + timedelta(hours=1)).isoformat())  # fmt: skip
    made = server.cli("resources", "reserve", "gradle", "1", "--namespace", "release", *window,
                      "--json")  # fmt: skip
    assert made.returncode == 0, made.stderr
    reservation = json.loads(made.stdout)
    with server.client(ADMIN_TOKEN) as client:
        other = apply_and_start(
            client, BUILD.format(name="other", namespace="default",
                                 extra="resources: {pools: {gradle: 1}}"),
        )["run_id"]  # fmt: skip
        reason = waiting_of(client, other, "a", "reserved for namespace release")
        assert reason.startswith("waiting for gradle: 1 reserved for namespace release until")
        shown = server.cli("resources", "status")
        assert shown.returncode == 0 and f"{other}/a: waiting for gradle" in shown.stdout
        detail = server.cli("runs", "show", other)
        assert detail.returncode == 0 and "a: waiting for gradle: 1 reserved" in detail.stdout
        holder = apply_and_start(
            client, BUILD.format(name="holder", namespace="release",
                                 extra="resources: {pools: {gradle: 1}}"),
        )["run_id"]  # fmt: skip
        status_of(client, holder, "a", "running")  # the holder uses its own reservation
        client.post(f"/api/v1/runs/{holder}/cancel")
        wait_status(client, holder, {"cancelled"})
        time.sleep(0.3)
        assert client.get(f"/api/v1/runs/{other}").json()["tasks"]["a"]["status"] == "queued"
        gone = server.cli("resources", "unreserve", reservation["id"])
        assert gone.returncode == 0, gone.stderr
        status_of(client, other, "a", "running")  # the window no longer keeps it out
        client.post(f"/api/v1/runs/{other}/cancel")
        wait_status(client, other, {"cancelled"})

        queued = server.cli("resources", "quota", "set", "mobile", "--tasks", "1")
        assert queued.returncode == 0, queued.stderr
        two = "name: two\nnamespace: mobile\ntasks:\n  - {id: a, run: 'sleep 30'}\n" \
              "  - {id: b, run: 'sleep 30'}\n"  # fmt: skip
        pair = apply_and_start(client, two)["run_id"]
        deadline = time.monotonic() + 30
        tasks: dict[str, Any] = {}
        while time.monotonic() < deadline:
            tasks = client.get(f"/api/v1/runs/{pair}").json()["tasks"]
            if any("quota" in (task.get("waiting") or "") for task in tasks.values()):
                break
            time.sleep(0.05)
        assert sorted(task["status"] for task in tasks.values()) == ["queued", "running"]
        [waiter] = [task for task in tasks.values() if task["status"] == "queued"]
        assert waiter["waiting"] == "waiting for quota of namespace mobile: 1/1 tasks running"

        refuse = server.cli("resources", "quota", "set", "mobile", "--runs", "1",
                            "--policy", "refuse")  # fmt: skip
        assert refuse.returncode == 0, refuse.stderr
        again = client.post("/api/v1/workflows/two/runs", json={})
        assert again.status_code == 429 and again.json()["code"] == "quota.exceeded"
        by_cli = server.cli("run", "two", "--server", server.url)
        assert by_cli.returncode == 2 and "quota" in by_cli.stderr
        client.post(f"/api/v1/runs/{pair}/cancel")
        wait_status(client, pair, {"cancelled"})
    assert server.terminate() == 0


LEAKER = """\
name: {name}
tasks:
  - id: leak
    run: >-
      echo "$TMPDIR $BASIR_ATTEMPT_ID" > {marker};
      sleep 301 &
      setsid sleep 302 >/dev/null 2>&1 </dev/null &
      ( setsid sh -c 'sleep 303 & exit 0' >/dev/null 2>&1 </dev/null & );
      sleep 0.5; {end}
"""


def test_leaked_children_and_temp_dirs_are_gone_after_an_end_or_a_cancel(
    server_factory: Any, tmp_path: Path
) -> None:
    server = server_factory().start()
    with server.client(ADMIN_TOKEN) as client:
        for name, end in (("ends", "exit 0"), ("cancelled", "sleep 300")):
            marker = tmp_path / f"{name}.txt"
            spec = LEAKER.format(name=name, marker=marker, end=end)
            run_id = apply_and_start(client, spec)["run_id"]
            deadline = time.monotonic() + 30
            while not (marker.exists() and marker.read_text().strip()):
                assert time.monotonic() < deadline, f"{name} never started"
                time.sleep(0.05)
            tmp_text, attempt_id = marker.read_text().split()
            if name == "cancelled":
                status_of(client, run_id, "leak", "running")
                time.sleep(0.8)  # its daemons are out of its group by now
                assert len(attempt_processes(attempt_id)) >= 4
                client.post(f"/api/v1/runs/{run_id}/cancel")
            wait_status(client, run_id, {"succeeded", "cancelled"})
            deadline = time.monotonic() + 20  # the sweeper looks 5 s after the end
            while attempt_processes(attempt_id) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert attempt_processes(attempt_id) == [], name
            assert not Path(tmp_text).exists(), name
        events = client.get(
            "/api/v1/events/history", params={"type": "resource.leak_fixed"}
        ).json()["items"]
        kinds = {(e["data"]["kind"], e["data"]["task_id"]) for e in events}
        assert kinds == {("processes", "leak")}
    assert server.terminate() == 0


def test_numbers_json_cannot_carry_are_refused_not_a_traceback(server_factory: Any) -> None:
    server = server_factory().start()
    for args in (
        ("resources", "pool", "set", "cpu", "nan"),
        ("resources", "quota", "set", "mobile", "--cpu", "inf"),
        ("resources", "reserve", "cpu", "nan", "--namespace", "x", "--cron", "0 2 * * *",
         "--duration", "1h"),
    ):  # fmt: skip
        done = server.cli(*args, "--server", server.url)
        assert done.returncode == 2, (args, done.stderr)
        assert "Traceback" not in done.stderr and "error:" in done.stderr, done.stderr
    assert server.terminate() == 0


def test_a_pool_added_through_the_cli_serves_tasks_and_outlives_a_restart(
    server_factory: Any, tmp_path: Path
) -> None:
    server = server_factory().start()
    job = write(
        tmp_path / "gpu.yaml",
        "name: gpu-job\ntasks:\n  - {id: a, run: 'true', resources: {pools: {gpu: 1}}}\n",
    )
    refused = server.cli("run", str(job), "--server", server.url)
    assert refused.returncode == 2 and "pool gpu, which does not exist" in refused.stderr
    added = server.cli("resources", "pool", "set", "gpu", "1", "--server", server.url)
    assert added.returncode == 0 and "pool gpu: capacity 1" in added.stdout, added.stderr
    assert cli_run(server, job)["status"] == "succeeded"
    assert server.terminate() == 0
    server.start()
    shown = server.cli("resources", "status", "--server", server.url, "--json")
    pools = {p["name"]: p for p in json.loads(shown.stdout)["pools"]}
    assert (pools["gpu"]["capacity"], pools["gpu"]["in_use"]) == (1, 0)
    assert server.terminate() == 0
