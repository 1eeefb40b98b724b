"""The engine's public surface stays put across its split into collaborators."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

from basir.engine.runtime import Engine, EngineHealth, new_run_id

PUBLIC = {
    "submit",
    "resume",
    "wait",
    "cancel_run",
    "pause_run",
    "resume_run",
    "retry_run",
    "add_tasks",
    "pause_task",
    "resume_task",
    "start",
    "stop",
    "health",
}
ROOT = Path(__file__).resolve().parents[3]


def test_the_public_methods_are_kept() -> None:
    methods = {name for name, _ in inspect.getmembers(Engine, inspect.isfunction)}
    assert methods >= PUBLIC
    assert not any(base.__name__ != "object" for base in Engine.__mro__[1:])  # composed
    assert EngineHealth(pump_alive=True).store_retrying is None
    assert len(new_run_id()) == 21


def test_module_size_check_flags_long_modules(tmp_path: Path) -> None:
    (tmp_path / "short.py").write_text("x = 1\n" * 10)
    (tmp_path / "long.py").write_text("x = 1\n" * 12)
    script = str(ROOT / "scripts" / "module_size.py")
    done = subprocess.run(
        [sys.executable, script, str(tmp_path), "--limit", "11"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "long.py: 12 lines" in done.stderr and "short.py" not in done.stderr
    clean = subprocess.run(
        [sys.executable, script, str(ROOT / "src")], capture_output=True, check=False
    )
    assert clean.returncode == 0, clean.stderr
