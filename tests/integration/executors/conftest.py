"""Fixtures for the executor integration tests (real processes, a real local HTTP server)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from basir.executors.base import TaskContext

# The python-task sample functions live with the unit tests; child processes see this path too.
SAMPLES = str(Path(__file__).parents[2] / "unit" / "executors")
if SAMPLES not in sys.path:
    sys.path.insert(0, SAMPLES)


@pytest.fixture
def make_ctx(tmp_path: Path) -> Callable[..., TaskContext]:
    """Build a TaskContext whose workdir and log live under `tmp_path`."""

    def build(**overrides: Any) -> TaskContext:
        values: dict[str, Any] = {
            "run_id": "run-1",
            "task_id": "task-1",
            "attempt": 1,
            "attempt_id": "att-1",
            "workflow": "wf",
            "workdir": tmp_path / "work",
            "log_path": tmp_path / "logs" / "task-1.log",
        }
        values.update(overrides)
        return TaskContext(**values)

    return build
