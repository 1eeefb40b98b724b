"""`basir run` hands tasks a clean environment: none of the parent's secrets, its own TMPDIR."""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import Cli, write

ADMIN_TOKEN = "cli-admin-token-SECRET-0123456789"
DB_PASSWORD = "pg-password-SECRET"
PROBE = """\
import os


def look():
    values = "\\n".join(os.environ.values())
    return {
        "names": sorted(os.environ),
        "leaks": [s for s in ("SECRET",) if s in values],
        "tmpdir": os.environ.get("TMPDIR", ""),
    }
"""


def test_tasks_of_basir_run_see_no_secret_of_the_parent(cli: Cli, tmp_path: Path) -> None:
    write(tmp_path / "env_probe.py", PROBE)
    spec = write(
        tmp_path / "snoop.yaml",
        """\
name: snoop
env: {DECLARED: yes-please}
tasks:
  - id: shell
    run: |
      env > shell-env.txt
      echo "$TMPDIR" > tmpdir.txt
      touch "$TMPDIR/scratch"
      echo "${{ env.BASIR_ADMIN_TOKEN }}|${{ env.DATABASE_URL }}|${{ env.OPERATOR_OK }}" > expr.txt
  - id: isolated
    python: env_probe:look
    isolate: true
""",
    )
    done = cli(
        "run",
        str(spec),
        "--json",
        env={
            "BASIR_ADMIN_TOKEN": ADMIN_TOKEN,
            "DATABASE_URL": f"postgresql://app:{DB_PASSWORD}@db/app",
            "OPERATOR_OK": "shown",
            "BASIR_TASK_ENV_ALLOW": "OPERATOR_OK",
            "PYTHONPATH": str(tmp_path),
        },
    )
    assert done.returncode == 0, done.stderr
    shell_env = (tmp_path / "shell-env.txt").read_text()
    assert "SECRET" not in shell_env
    assert "BASIR_ADMIN_TOKEN" not in shell_env and "DATABASE_URL" not in shell_env
    assert "DECLARED=yes-please" in shell_env and "BASIR_TASK_ID=shell" in shell_env
    assert (tmp_path / "expr.txt").read_text() == "||shown\n"
    tmpdir = Path((tmp_path / "tmpdir.txt").read_text().strip())
    assert tmpdir.name and not tmpdir.exists()  # the attempt's own, removed after
    outputs = json.loads(done.stdout)["tasks"]["isolated"]["outputs"]
    assert outputs["leaks"] == []
    assert "BASIR_ADMIN_TOKEN" not in outputs["names"] and "DECLARED" in outputs["names"]
    assert "BASIR_RUN_ID" in outputs["names"] and outputs["tmpdir"]
    assert not Path(outputs["tmpdir"]).exists()
