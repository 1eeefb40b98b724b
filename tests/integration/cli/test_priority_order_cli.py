"""The queue order through the real `basir run`: with `concurrency: 1`, priority decides.

Four tasks become ready at the same moment (when `first` ends) and run one at a time; each
records when it started.  A task's own `priority:` wins over its run's (`low` here).
"""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import Cli, write

STAMP = 'echo "t=$(date +%s%N)" >> "$BASIR_OUTPUT"'
ORDERED = f"""\
name: ordered
priority: low
concurrency: 1
tasks:
  - {{id: first, uses: sleep, with: {{seconds: 0.3}}}}
  - {{id: plain, needs: [first], run: '{STAMP}'}}
  - {{id: normal, needs: [first], priority: normal, run: '{STAMP}'}}
  - {{id: numbered, needs: [first], priority: 80, run: '{STAMP}'}}
  - {{id: urgent, needs: [first], priority: critical, run: '{STAMP}'}}
"""


def test_concurrency_one_runs_ready_tasks_by_priority(cli: Cli, tmp_path: Path) -> None:
    done = cli("run", str(write(tmp_path / "ordered.yaml", ORDERED)), "--json")
    assert done.returncode == 0, done.stderr
    tasks = json.loads(done.stdout)["tasks"]
    stamped = [task_id for task_id in tasks if task_id != "first"]
    order = sorted(stamped, key=lambda task_id: int(tasks[task_id]["outputs"]["t"]))
    assert order == ["urgent", "numbered", "normal", "plain"]
