"""Running the real `basir` executable in a subprocess, with an isolated BASIR_HOME."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from cli_helpers import BASIR, Cli


@pytest.fixture
def cli(basir_home: Path, tmp_path: Path) -> Cli:
    """`cli("run", "x.yaml", input=None, env={...})` → the finished process (text mode)."""

    def run(
        *args: str, env: dict[str, str] | None = None, timeout: float = 60, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, "BASIR_HOME": str(basir_home), **(env or {})}
        return subprocess.run(
            [BASIR, *args],
            capture_output=True,
            text=True,
            env=full_env,
            timeout=timeout,
            cwd=cwd or tmp_path,
            check=False,
        )

    return run
