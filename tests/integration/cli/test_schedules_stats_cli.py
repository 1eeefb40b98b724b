"""`basir schedules stats` after `basir run`, through the real executable on the embedded store.

A task's own `priority:` places it in its class (it wins over its run's, as in the queue
order), each class and queue has its deadline hit rate, and the text table shows every figure.
"""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import Cli, write

MIXED = """\
name: mixed
priority: low
deadline: 1h
tasks:
  - {id: urgent, priority: critical, uses: noop}
  - {id: plain, uses: noop}
  - {id: quick, deadline: 1h, priority: 75, uses: noop}
"""


def test_stats_place_each_task_by_its_own_priority(cli: Cli, tmp_path: Path) -> None:
    done = cli("run", str(write(tmp_path / "mixed.yaml", MIXED)), "--json")
    assert done.returncode == 0, done.stderr
    stats = cli("schedules", "stats", "--window", "10m", "--json")
    assert stats.returncode == 0, stats.stderr
    data = json.loads(stats.stdout)
    counts = {name: group["tasks"] for name, group in data["classes"].items()}
    assert counts == {"critical": 1, "high": 1, "normal": 0, "low": 1}
    for name in ("critical", "high", "low"):
        group = data["classes"][name]
        assert (group["deadline_tasks"], group["deadline_met"]) == (1, 1), name
        assert group["deadline_hit_rate"] == 1.0
    assert data["classes"]["normal"]["deadline_hit_rate"] is None
    assert data["queues"]["default"]["deadline_tasks"] == 3
    assert data["deadlines"] == {"runs": 1, "met": 1, "hit_rate": 1.0}

    text = cli("schedules", "stats", "--window", "10m")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert any(line.split()[:1] == ["class"] and "throttled" in line and "preempted" in line
               and "on time" in line for line in lines), text.stdout  # fmt: skip
    assert any(line.split()[:1] == ["queue"] for line in lines), text.stdout
    critical = next(line.split() for line in lines if line.split()[:1] == ["critical"])
    assert critical[1] == "1" and critical[-1] == "100%", critical
    assert all("…" not in line for line in lines), text.stdout  # nothing cut at 80 columns
