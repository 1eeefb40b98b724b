"""`kill -9` of `basir run` mid-task, then `basir resume`: never two live attempts of a task."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from cli_helpers import BASIR, Cli, write

from basir.store.factory import open_store
from process_groups import live_members

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")

# Each attempt notes its start (with its process group) and its end; the first never ends
# on its own while `release` is missing.
SHELL_TWIN = """\
name: twin
tasks:
  - id: slow
    run: |
      echo "start $BASIR_ATTEMPT $(ps -o pgid= $$)" >> marks.txt
      if [ ! -f release ]; then sleep 60; fi
      echo "end $BASIR_ATTEMPT" >> marks.txt
"""

PYTHON_TWIN = """\
name: twin-py
tasks:
  - id: slow
    python: twin_task:slow
    isolate: true
"""

TWIN_TASK = """\
import os, subprocess
from pathlib import Path

def slow():
    attempt = os.environ["BASIR_ATTEMPT"]
    with open("marks.txt", "a") as marks:
        marks.write(f"start {attempt} {os.getpgid(0)}\\n")
    if not Path("release").exists():
        subprocess.run(["sleep", "60"])  # a child in the worker's group, like real work
    with open("marks.txt", "a") as marks:
        marks.write(f"end {attempt}\\n")
"""


def marks(tmp_path: Path) -> list[str]:
    path = tmp_path / "marks.txt"
    return path.read_text().splitlines() if path.exists() else []


def run_and_kill_9(tmp_path: Path, basir_home: Path, spec: Path, groups: list[int]) -> str:
    """Start `basir run`, wait for the first attempt to start, `kill -9` the CLI alone."""
    env = {**os.environ, "BASIR_HOME": str(basir_home), "PYTHONPATH": str(tmp_path)}
    process = subprocess.Popen(
        [BASIR, "run", str(spec)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    groups.append(process.pid)
    deadline = time.monotonic() + 60
    while not marks(tmp_path):
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline, "the task never started"
        time.sleep(0.05)
    process.kill()  # only the engine: its task processes are in a group of their own
    process.wait(10)
    assert process.stderr is not None
    with process.stderr:
        return process.stderr.readline().split()[1]


async def interrupted_events(basir_home: Path, run_id: str) -> list[dict[str, object]]:
    store = open_store(f"sqlite:///{basir_home / 'basir.db'}")
    await store.open()
    try:
        events = await store.list_events(run_id=run_id, types=("task.interrupted",))
    finally:
        await store.close()
    return [event.data for event in events]


@pytest.mark.parametrize("kind", ["shell", "isolated-python"])
def test_kill_9_then_resume_runs_exactly_one_attempt_to_its_end(
    cli: Cli, tmp_path: Path, basir_home: Path, groups: list[int], kind: str
) -> None:
    if kind == "shell":
        spec = write(tmp_path / "twin.yaml", SHELL_TWIN)
    else:
        spec = write(tmp_path / "twin.yaml", PYTHON_TWIN)
        (tmp_path / "twin_task.py").write_text(TWIN_TASK)
    run_id = run_and_kill_9(tmp_path, basir_home, spec, groups)
    [first] = marks(tmp_path)
    pgid = int(first.split()[2])
    groups.append(pgid)
    # The engine is gone; its attempt's group is not (at least the `sleep` in it).
    assert first.startswith("start 1 ") and live_members(pgid)

    (tmp_path / "release").write_text("")
    done = cli("resume", run_id, "--json", env={"PYTHONPATH": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "succeeded"
    assert result["tasks"]["slow"]["attempts"] == 2
    lines = marks(tmp_path)
    assert [line.split()[:2] for line in lines] == [["start", "1"], ["start", "2"], ["end", "2"]]
    assert live_members(pgid) == []  # nothing of the first attempt survived
    [data] = asyncio.run(interrupted_events(basir_home, run_id))
    assert data["reason"] == "interrupted"
    assert data["killed_leftover"] is True and data["pgid"] == pgid
