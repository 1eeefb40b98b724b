"""The executor registry: lookup by body kind, registration, closing."""

from __future__ import annotations

from pathlib import Path

import pytest

from basir.config import Settings
from basir.executors.base import JsonDict, TaskContext
from basir.executors.builtin import BuiltinExecutor
from basir.executors.http import HttpExecutor
from basir.executors.python import PythonExecutor
from basir.executors.registry import ExecutorRegistry, UnknownExecutorError, default_registry
from basir.executors.shell import ShellExecutor


class FakeExecutor:
    kind = "workflow"

    def __init__(self) -> None:
        self.closed = 0

    async def execute(self, body: JsonDict, ctx: TaskContext) -> JsonDict:
        return {"fake": True}

    def close(self) -> None:
        self.closed += 1


class BrokenCloser(FakeExecutor):
    kind = "broken"

    async def aclose(self) -> None:
        raise RuntimeError("cannot close")


async def test_default_registry_has_the_four_kinds() -> None:
    registry = default_registry(python_threads=4)
    try:
        assert registry.kinds() == ["run", "python", "http", "uses"]
        assert isinstance(registry.get("run"), ShellExecutor)
        assert isinstance(registry.get("python"), PythonExecutor)
        assert isinstance(registry.get("http"), HttpExecutor)
        assert isinstance(registry.get("uses"), BuiltinExecutor)
        assert "run" in registry
        assert list(registry) == registry.kinds()
    finally:
        await registry.aclose()


async def test_default_registry_from_settings(tmp_path: Path) -> None:
    registry = default_registry(Settings(home=tmp_path, max_parallel=7))
    python = registry.get("python")
    assert isinstance(python, PythonExecutor)
    assert python._max_workers == 7
    await registry.aclose()


async def test_unknown_kind() -> None:
    with pytest.raises(UnknownExecutorError, match="workflow"):
        ExecutorRegistry().get("workflow")


async def test_register_replaces_and_aclose_calls_sync_close() -> None:
    registry = ExecutorRegistry()
    first, second = FakeExecutor(), FakeExecutor()
    registry.register(first)
    registry.register(second)
    assert registry.get("workflow") is second
    await registry.aclose()
    assert (first.closed, second.closed) == (0, 1)


async def test_aclose_closes_the_others_then_raises() -> None:
    fake = FakeExecutor()
    registry = ExecutorRegistry([BrokenCloser(), fake])
    with pytest.raises(RuntimeError, match="cannot close"):
        await registry.aclose()
    assert fake.closed == 1
