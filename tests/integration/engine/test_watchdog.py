"""The engine's own timeout timer ends an attempt that does not stop when its timeout cancels it.

The attempt runner's `asyncio.timeout` relies on the task giving up when cancelled; these task
bodies swallow that cancellation.  The engine's timer then kills the attempt's recorded process
group, fails the attempt as a timeout and gives its slot back.
"""

from __future__ import annotations

import asyncio
import subprocess

import stuck_funcs

from basir.coordinator.workflows import apply_workflow
from basir.engine.runtime import Engine
from basir.i18n.deferred import render_message
from basir.spec.models import WorkflowSpec

WAIT_S = 20
BACKSTOP_S = 0.3


async def run_one(engine: Engine, task: dict[str, object]) -> tuple[str, str | None]:
    engine.flow.watchdog.backstop_s = BACKSTOP_S
    document = {"name": "stuck", "tasks": [task]}
    version, _ = await apply_workflow(engine.store, WorkflowSpec.model_validate(document))
    run = await engine.submit(version)
    final = await asyncio.wait_for(engine.wait(run.id), WAIT_S)
    (row,) = await engine.store.get_tasks(run.id)
    assert (row.status, row.attempts) == ("failed", 1)
    assert engine.flow.slots_used == 0 and engine.flow.attempts == {}
    return final.status, render_message(row.error)


async def test_a_task_deaf_to_its_timeout_is_failed_by_the_engine(engine: Engine) -> None:
    status, error = await run_one(
        engine, {"id": "deaf", "python": "stuck_funcs:deaf", "timeout": 0.2}
    )
    assert status == "failed"
    assert error is not None and "timed out after 0.2s" in error
    assert "ended by the engine" in error


async def test_the_engine_kills_the_recorded_group_of_a_stuck_attempt(engine: Engine) -> None:
    stuck_funcs.STARTED.clear()
    status, error = await run_one(
        engine, {"id": "deaf", "python": "stuck_funcs:deaf_with_group", "timeout": 0.2}
    )
    assert status == "failed" and error is not None and "ended by the engine" in error
    (process,) = stuck_funcs.STARTED
    try:
        assert process.wait(timeout=5) == -9  # SIGKILL from the engine, not the end of sleep
    except subprocess.TimeoutExpired:
        process.kill()
        raise


async def test_an_attempt_that_stops_by_itself_is_left_to_the_runner(engine: Engine) -> None:
    engine.flow.watchdog.backstop_s = BACKSTOP_S
    document = {"name": "slow", "tasks": [{"id": "t", "run": "sleep 5", "timeout": 0.2}]}
    version, _ = await apply_workflow(engine.store, WorkflowSpec.model_validate(document))
    run = await engine.submit(version)
    assert (await asyncio.wait_for(engine.wait(run.id), WAIT_S)).status == "failed"
    (row,) = await engine.store.get_tasks(run.id)
    # the runner's own timeout, not the backstop
    assert render_message(row.error) == "timed out after 0.2s"
    assert not engine.flow.timers.armed((run.id, "timeout:t"))
