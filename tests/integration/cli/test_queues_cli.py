"""Queues and concurrency keys through the real `basir` executable (`basir run`)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from cli_helpers import Cli, write

# Each task appends "start end" (nanoseconds) to its output; one queue slot and one key value
# must keep their windows apart, while the other key value overlaps them.
SERIAL = """\
name: serial
params: {branch: {default: main}}
defaults: {queue: builds}
tasks:
  - id: b
    foreach: [1, 2, 3]
    run: |
      start=$(date +%s%N); sleep 0.2; echo "span=$start $(date +%s%N)" >> "$BASIR_OUTPUT"
  - id: k
    queue: wide
    foreach: ["main", "dev", "main"]
    concurrency_key: "${{ params.branch }}-${{ item }}"
    run: |
      start=$(date +%s%N); sleep 0.2; echo "span=$start $(date +%s%N)" >> "$BASIR_OUTPUT"
"""

QUEUES = {"BASIR_QUEUES": "builds=1,wide=8"}


def spans(result: dict[str, object], ids: list[str]) -> list[tuple[int, int]]:
    tasks = result["tasks"]
    assert isinstance(tasks, dict)
    found = []
    for task_id in ids:
        start, end = tasks[task_id]["outputs"]["span"].split()
        found.append((int(start), int(end)))
    return sorted(found)


def test_run_obeys_queues_and_keys(cli: Cli, tmp_path: Path) -> None:
    done = cli("run", str(write(tmp_path / "serial.yaml", SERIAL)), "--json", env=QUEUES)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "succeeded"
    builds = spans(result, ["b[0]", "b[1]", "b[2]"])
    assert all(end <= start for (_s, end), (start, _e) in itertools.pairwise(builds))
    mains = spans(result, ["k[0]", "k[2]"])
    assert mains[0][1] <= mains[1][0]  # same key value: one after the other
    dev = spans(result, ["k[1]"])[0]
    assert dev[0] < mains[0][1]  # the other value ran meanwhile
    stats = cli("schedules", "stats", "--json", env=QUEUES)
    assert stats.returncode == 0, stats.stderr
    queues = json.loads(stats.stdout)["queues"]
    assert (queues["builds"]["tasks"], queues["wide"]["tasks"]) == (3, 3)
    assert queues["builds"]["throttled_s"] >= 0.3  # two builds waited for the one slot
    assert queues["wide"]["throttled_s"] >= 0.15  # the second main waited for its key


def test_run_refuses_a_queue_that_does_not_exist(cli: Cli, tmp_path: Path) -> None:
    path = write(
        tmp_path / "lost.yaml", "name: lost\ntasks:\n  - {id: a, run: 'true', queue: bilds}\n"
    )
    done = cli("run", str(path), env=QUEUES)
    assert done.returncode == 2
    assert done.stderr.startswith(f"{path}:3:26: tasks[0].queue: queue bilds does not exist")
    assert "(did you mean builds?)" in done.stderr
    assert cli("validate", str(path)).returncode == 0  # a file alone knows no queues
    bad = cli("run", str(path), env={"BASIR_QUEUES": "builds=zero"})
    assert bad.returncode == 2 and "builds=zero is not name=slots" in bad.stderr
