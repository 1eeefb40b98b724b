"""A fresh `basir run` / `basir validate` imports only what it needs (issue 8, item 5).

SQLAlchemy and Alembic cost a one-task run about a third of its time; the embedded store
takes its SQL from the shipped catalogue instead, so these commands must not import them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cli_helpers import write

ONE = "name: one\ntasks:\n  - id: a\n    uses: noop\n"
ENTRY = "from basir.cli.main import main; main()"
HEAVY = ("sqlalchemy", "alembic")


def _imported(args: list[str], home: Path) -> set[str]:
    """Top-level packages a fresh `basir <args>` imported (from `-X importtime`)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", ENTRY, *args],
        capture_output=True,
        text=True,
        env={
            **{key: value for key, value in os.environ.items() if key != "BASIR_DB"},
            "BASIR_HOME": str(home),  # the embedded SQLite store under a fresh home
            "BASIR_LANG": "en",
        },
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    names = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    assert "basir" in names  # the probe works
    return names


def test_run_of_one_task_does_not_import_sqlalchemy(basir_home: Path, tmp_path: Path) -> None:
    spec = write(tmp_path / "one.yaml", ONE)
    first = _imported(["run", str(spec), "--json"], basir_home)  # creates the store
    again = _imported(["run", str(spec), "--json"], basir_home)  # opens it at head
    assert not first & set(HEAVY) and not again & set(HEAVY)


def test_validate_does_not_import_sqlalchemy(basir_home: Path, tmp_path: Path) -> None:
    spec = write(tmp_path / "one.yaml", ONE)
    assert not _imported(["validate", str(spec)], basir_home) & set(HEAVY)
