"""Engine fixtures: an engine on a fresh store (memory and SQLite), and task helper functions."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from basir.config import Settings
from basir.coordinator.workflows import apply_workflow
from basir.engine.report import run_to_dict
from basir.engine.runtime import Engine
from basir.spec.models import WorkflowSpec
from basir.store.base import Store
from basir.store.factory import open_store

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from engine_funcs import RunFn  # noqa: E402 - importable once HERE is on sys.path


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """The store under test: in memory, and a real SQLite file."""
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'basir.db'}"
    opened = open_store(url)
    await opened.open()
    yield opened
    await opened.close()


@pytest.fixture
async def engine(store: Store, tmp_path: Path) -> AsyncIterator[Engine]:
    """A started engine whose tasks run in `tmp_path`."""
    settings = Settings(home=tmp_path / "home", shutdown_grace_s=0.0)
    started = Engine(store, settings, workdir=tmp_path)
    await started.start(resume=False)
    yield started
    await started.stop(grace_s=0)


@pytest.fixture
def run_workflow(engine: Engine) -> RunFn:
    """Apply a spec document, run it to the end, and return the DESIGN §6 result."""

    async def run(document: dict[str, Any], **params: Any) -> dict[str, Any]:
        version, _created = await apply_workflow(
            engine.store, WorkflowSpec.model_validate(document)
        )
        run = await engine.submit(version, params=params)
        final = await engine.wait(run.id)
        return run_to_dict(final, await engine.store.get_tasks(run.id))

    return run
