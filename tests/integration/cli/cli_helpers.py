"""Helpers for the CLI tests: where the executable is, and writing workflow files."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

BASIR = str(Path(sys.executable).parent / "basir")

Cli = Callable[..., subprocess.CompletedProcess[str]]


def write(path: Path, text: str) -> Path:
    """Write a workflow file and return its path."""
    path.write_text(text, encoding="utf-8")
    return path
