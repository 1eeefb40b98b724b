"""A fresh `basir run` process on a generated 10,000-task file ends with the right exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from basir.spec.models import MAX_TASKS

BASIR = str(Path(sys.executable).parent / "basir")


def chain_file(path: Path, n: int, fail_at: int | None) -> Path:
    """Write a YAML chain of `n` noop tasks, the one at `fail_at` failing."""
    tasks = []
    for index in range(n):
        task: dict[str, object] = {
            "id": f"t{index}",
            "uses": "fail" if index == fail_at else "noop",
        }
        if index:
            task["needs"] = [f"t{index - 1}"]
        tasks.append(task)
    path.write_text(yaml.safe_dump({"name": "chain", "tasks": tasks}), encoding="utf-8")
    return path


def basir_run(spec: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """`basir run SPEC --json` in a new process with its own home."""
    return subprocess.run(
        [BASIR, "run", str(spec), "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "BASIR_HOME": str(home)},
        timeout=110,
        cwd=spec.parent,
        check=False,
    )


def test_cli_chain_of_the_limit_failing_early_exits_1(tmp_path: Path, basir_home: Path) -> None:
    done = basir_run(chain_file(tmp_path / "chain.yaml", MAX_TASKS, fail_at=2), basir_home)
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "failed"
    statuses = [task["status"] for task in result["tasks"].values()]
    assert statuses.count("upstream_failed") == MAX_TASKS - 3
    assert statuses.count("failed") == 1
    assert "never retrieved" not in done.stderr
