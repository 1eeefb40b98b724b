"""Preemption through the real `basir run`: a low task yields its gpu to a critical one.

`bulk` (low, preemptible, no retries) holds the only `gpu`; its first attempt marks itself and
sleeps a minute.  `gate` waits for that mark, then `fix` (critical, needs `gate`) wants the
gpu: `bulk` is stopped, `fix` runs, `bulk` runs again and succeeds.  Nothing here sleeps to
wait: each step waits for the mark of the one before.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from cli_helpers import Cli, write

WORKFLOW = """\
name: preempt
tasks:
  - id: bulk
    priority: low
    preemptible: true
    retries: 0
    resources: {pools: {gpu: 1}}
    run: |
      echo "$$" >> bulk.attempts
      [ "$(wc -l < bulk.attempts)" -gt 1 ] || exec sleep 60
  - id: gate
    run: 'while [ ! -f bulk.attempts ]; do sleep 0.05; done'
  - id: fix
    needs: gate
    priority: critical
    resources: {pools: {gpu: 1}}
    run: 'echo fixed'
"""

POOLS = {"BASIR_POOLS": "gpu=1"}


def test_a_low_task_yields_to_a_critical_one_and_runs_again(
    cli: Cli, tmp_path: Path, basir_home: Path
) -> None:
    done = cli("run", str(write(tmp_path / "preempt.yaml", WORKFLOW)), "--json", env=POOLS)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "succeeded"
    bulk = result["tasks"]["bulk"]
    # Its retry budget (none) is intact: the stop did not count as an attempt or a failure.
    assert (bulk["status"], bulk["attempts"]) == ("succeeded", 1)
    first, second = (tmp_path / "bulk.attempts").read_text().split()
    assert first != second  # two processes: the first was stopped, the second ran to its end

    with sqlite3.connect(basir_home / "basir.db") as db:
        counted = dict(
            db.execute(
                "SELECT task_id, preemptions FROM tasks WHERE run_id = ?", (result["run_id"],)
            )
        )
        rows = db.execute(
            "SELECT task_id, data FROM events WHERE type = 'task.preempted' AND run_id = ?",
            (result["run_id"],),
        ).fetchall()
        starts = [
            task
            for (task,) in db.execute(
                "SELECT task_id FROM events WHERE type = 'task.started' AND run_id = ? ORDER BY id",
                (result["run_id"],),
            )
        ]
    assert counted == {"bulk": 1, "gate": 0, "fix": 0}
    assert len(rows) == 1
    task_id, raw = rows[0]
    data = json.loads(raw)
    assert task_id == "bulk"
    assert (data["by_run_id"], data["by_task_id"], data["reason"]) == (
        result["run_id"],
        "fix",
        "resources",
    )
    assert starts.index("fix") < len(starts) - 1 - starts[::-1].index("bulk")  # fix, then bulk

    stats = cli("schedules", "stats", "--window", "1h", "--json")
    assert stats.returncode == 0, stats.stderr
    shown = json.loads(stats.stdout)
    # Analytics group tasks by their own class: bulk is `low` (its run is `normal`).
    assert shown["classes"]["low"]["preemptions"] == 1
    assert shown["classes"].get("normal", {}).get("preemptions", 0) == 0
    assert shown["queues"]["default"]["preemptions"] == 1
