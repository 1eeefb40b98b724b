"""Fixtures every test gets: an isolated BASIR_HOME and a clean locale.

Keep this file small: fixtures for one package live in that package's tests.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from basir.executors.base import TaskContext
from basir.i18n import catalog

# Variables that would let the developer's own setup leak into a test.
_ISOLATED_ENV = ("BASIR_DB", "BASIR_LANG", "BASIR_ADMIN_TOKEN", "BASIR_TEMPLATE_PATH")


@pytest.fixture(autouse=True)
def basir_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test writes under its own BASIR_HOME, never into ~/.basir."""
    home = tmp_path_factory.mktemp("basir-home")
    monkeypatch.setenv("BASIR_HOME", str(home))
    for name in _ISOLATED_ENV:
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture(autouse=True)
def english_locale() -> Iterator[None]:
    """Start each test in English, whatever the previous one switched to."""
    catalog.set_locale(catalog.DEFAULT_LOCALE)
    yield
    catalog.set_locale(catalog.DEFAULT_LOCALE)


@pytest.fixture
def make_ctx(tmp_path: Path) -> Callable[..., TaskContext]:
    """Build an executor's TaskContext whose workdir and log live under `tmp_path`."""

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


@pytest.fixture
def groups() -> Iterator[list[int]]:
    """Process groups a test starts; whatever is left of them is killed afterwards."""
    from process_groups import kill_groups

    started: list[int] = []
    yield started
    kill_groups(started)


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """Root logging through the JSON handler into a buffer; the old handlers back after."""
    from basir.logconfig import configure_logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    buffer = io.StringIO()
    configure_logging("json", "INFO", buffer)
    yield buffer
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
