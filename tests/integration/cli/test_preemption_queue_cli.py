"""Preemption for a named queue through the real `basir run`: a low task yields its queue slot.

`bulk` (low, preemptible, no retries) holds the only slot of queue `q` (`BASIR_QUEUES=q=1`);
its first attempt marks itself and sleeps a minute.  `gate` waits for that mark, then `fix`
(critical, needs `gate`, queue `q`) cannot start because `q` is full: `bulk` is stopped, `fix`
takes the slot, `bulk` runs again and succeeds, its retry budget untouched.  The same with a
concurrency key instead of a queue.  Nothing sleeps to wait: each step waits for a mark.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from cli_helpers import Cli, write

WORKFLOW = """\
name: preempt-{kind}
tasks:
  - id: bulk
    priority: low
    preemptible: true
    retries: 0
    {limit}
    run: |
      echo "$$" >> bulk.attempts
      [ "$(wc -l < bulk.attempts)" -gt 1 ] || exec sleep 60
  - id: gate
    run: 'while [ ! -f bulk.attempts ]; do sleep 0.05; done'
  - id: fix
    needs: gate
    priority: critical
    {limit}
    run: 'echo fixed'
"""
LIMITS = {"queue": "queue: q", "key": 'concurrency_key: "deploy"'}


@pytest.mark.parametrize("kind", ["queue", "key"])
def test_a_low_task_yields_its_queue_slot_to_a_critical_one(
    cli: Cli, tmp_path: Path, basir_home: Path, kind: str
) -> None:
    spec = WORKFLOW.format(kind=kind, limit=LIMITS[kind])
    path = write(tmp_path / "preempt.yaml", spec)
    done = cli("run", str(path), "--json", env={"BASIR_QUEUES": "q=1"})
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "succeeded"
    bulk = result["tasks"]["bulk"]
    assert (bulk["status"], bulk["attempts"]) == ("succeeded", 1)  # no retry spent
    first, second = (tmp_path / "bulk.attempts").read_text().split()
    assert first != second  # two processes: the first was stopped, the second ran to its end
    assert f"task bulk preempted by run {result['run_id']} task fix" in done.stderr

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
    [(task_id, raw)] = rows
    data = json.loads(raw)
    assert task_id == "bulk"
    assert (data["by_run_id"], data["by_task_id"], data["reason"]) == (
        result["run_id"],
        "fix",
        kind,
    )
    assert starts.index("fix") < len(starts) - 1 - starts[::-1].index("bulk")  # fix, then bulk
