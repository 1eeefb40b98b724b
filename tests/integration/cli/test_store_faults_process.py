"""A transient store fault under a real process: another connection holds the SQLite file's
write lock past the store's busy timeout (5 s) while the engine has something to commit.

The engine must wait it out (retry with backoff, say so in its log and in `/readyz`) and carry
on once the lock is gone, with no task run twice. The fault is released as soon as the retry is
observed, so no fixed delay decides the outcome.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import httpx
from cli_helpers import BASIR, write

TOKEN = "store-fault-admin-token-0123456789abcdef"
DEADLINE_S = 30.0
SLEEP_THEN_NOOP = """\
name: held
tasks:
  - id: nap
    uses: sleep
    with: {seconds: 1.5}
  - id: after
    uses: noop
    needs: [nap]
"""


@contextmanager
def write_lock(db: Path) -> Iterator[sqlite3.Connection]:
    """Hold an exclusive write lock on the store file for the body, then commit.

    Waits (up to 10 s) for an engine write in flight to finish before the lock is taken.
    """
    holder = sqlite3.connect(db, timeout=10, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        yield holder
        holder.execute("COMMIT")
    finally:
        holder.close()


def line_reader(stream: IO[str]) -> queue.Queue[str | None]:
    """Lines of `stream` as they come (None at its end), read on a daemon thread."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def wait_line(lines: queue.Queue[str | None], seen: list[str], needle: str) -> str:
    """The first line containing `needle` (all lines read go to `seen`), within DEADLINE_S."""
    deadline = time.monotonic() + DEADLINE_S
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            raise AssertionError(f"stream ended before {needle!r}: {''.join(seen)}")
        seen.append(line)
        if needle in line:
            return line
    raise AssertionError(f"no {needle!r} within {DEADLINE_S}s: {''.join(seen)}")


def test_run_process_waits_out_a_locked_store(basir_home: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "held.yaml", SLEEP_THEN_NOOP)
    env = {**os.environ, "BASIR_HOME": str(basir_home)}
    process = subprocess.Popen(
        [BASIR, "run", str(path), "--json"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None and process.stdout is not None
        lines = line_reader(process.stderr)
        seen: list[str] = []
        run_line = wait_line(lines, seen, "run ")
        with write_lock(basir_home / "basir.db"):
            # The task's next commit waits the busy timeout out, fails, and is retried.
            wait_line(lines, seen, "store write failed")
        out = process.stdout.read()
        code = process.wait(DEADLINE_S)
        while (line := lines.get(timeout=DEADLINE_S)) is not None:
            seen.append(line)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    stderr = "".join(seen)
    assert code == 0, stderr
    assert "database is locked" in stderr
    assert "store write succeeded again" in stderr
    result = json.loads(out)
    assert result["run_id"] == run_line.split()[1]
    assert result["status"] == "succeeded"
    assert {tid: (t["status"], t["attempts"]) for tid, t in result["tasks"].items()} == {
        "nap": ("succeeded", 1),
        "after": ("succeeded", 1),
    }


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _poll(check: Any, what: str) -> Any:
    """Call `check()` until it returns something truthy, within DEADLINE_S."""
    deadline = time.monotonic() + DEADLINE_S
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"{what} not within {DEADLINE_S}s (last: {last})")


def _ready(url: str) -> httpx.Response:
    return httpx.get(f"{url}/readyz", timeout=5)


def test_server_readyz_shows_a_locked_store_and_the_run_carries_on(
    basir_home: Path, tmp_path: Path
) -> None:
    port = free_port()
    env = {**os.environ, "BASIR_HOME": str(basir_home), "BASIR_ADMIN_TOKEN": TOKEN}
    log = (tmp_path / "server.out").open("w")
    server = subprocess.Popen(
        [BASIR, "server", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def output() -> str:
        return (tmp_path / "server.out").read_text()

    def up() -> bool:
        assert server.poll() is None, output()
        try:
            return _ready(url).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        _poll(up, "server ready")
        client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"})
        applied = client.post(
            "/api/v1/workflows",
            content=SLEEP_THEN_NOOP,
            headers={"Content-Type": "application/yaml"},
        )
        assert applied.status_code in (200, 201), applied.text
        started = client.post("/api/v1/workflows/held/runs", json={})
        assert started.status_code == 201, started.text
        run_id = started.json()["run_id"]

        def retrying() -> dict[str, Any] | None:
            answer = _ready(url)
            if answer.status_code != 503:
                return None
            body: dict[str, Any] = answer.json()
            assert body["code"] == "store.retrying", body
            return body

        with write_lock(basir_home / "basir.db"):
            problem = _poll(retrying, "/readyz 503 store.retrying")
            assert "locked" in problem["detail"]
        _poll(lambda: _ready(url).status_code == 200, "/readyz 200 after the lock")

        def finished() -> dict[str, Any] | None:
            run: dict[str, Any] = client.get(f"/api/v1/runs/{run_id}").json()
            return run if run["status"] in {"succeeded", "failed", "cancelled"} else None

        run = _poll(finished, f"run {run_id} finished")
        assert run["status"] == "succeeded", (run, output())
        assert {tid: (t["status"], t["attempts"]) for tid, t in run["tasks"].items()} == {
            "nap": ("succeeded", 1),
            "after": ("succeeded", 1),
        }
        assert "store write failed" in output()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)
        log.close()
