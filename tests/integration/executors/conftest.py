"""Fixtures for the executor integration tests (real processes, a real local HTTP server)."""

from __future__ import annotations

import sys
from pathlib import Path

# The python-task sample functions live with the unit tests; child processes see this path too.
SAMPLES = str(Path(__file__).parents[2] / "unit" / "executors")
if SAMPLES not in sys.path:
    sys.path.insert(0, SAMPLES)
