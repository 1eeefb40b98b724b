"""The transition tables are the only way a state moves."""

from __future__ import annotations

import pytest

from basir.states import (
    RUN_TERMINAL,
    TASK_TERMINAL,
    IllegalTransitionError,
    RunStatus,
    TaskStatus,
    allowed_run_sources,
    allowed_task_sources,
    check_run_transition,
    check_task_transition,
)


def test_every_state_has_a_row() -> None:
    from basir.states import RUN_TRANSITIONS, TASK_TRANSITIONS

    assert set(RUN_TRANSITIONS) == set(RunStatus)
    assert set(TASK_TRANSITIONS) == set(TaskStatus)


def test_succeeded_is_final() -> None:
    with pytest.raises(IllegalTransitionError):
        check_task_transition(TaskStatus.SUCCEEDED, TaskStatus.QUEUED)
    with pytest.raises(IllegalTransitionError):
        check_run_transition(RunStatus.SUCCEEDED, RunStatus.RUNNING)


def test_pending_cannot_jump_to_running() -> None:
    with pytest.raises(IllegalTransitionError):
        check_task_transition(TaskStatus.PENDING, TaskStatus.RUNNING)
    check_task_transition(TaskStatus.PENDING, TaskStatus.QUEUED)
    check_task_transition(TaskStatus.QUEUED, TaskStatus.RUNNING)


def test_retry_cycle_and_sources() -> None:
    check_task_transition(TaskStatus.RUNNING, TaskStatus.RETRYING)
    check_task_transition(TaskStatus.RETRYING, TaskStatus.QUEUED)
    assert allowed_task_sources(TaskStatus.RETRYING) == {TaskStatus.RUNNING}
    assert RunStatus.PAUSED in allowed_run_sources(RunStatus.RUNNING)


def test_terminal_sets() -> None:
    assert TaskStatus.SKIPPED in TASK_TERMINAL
    assert TaskStatus.RETRYING not in TASK_TERMINAL
    assert RunStatus.PAUSED not in RUN_TERMINAL


def test_public_import_location() -> None:
    """The lifecycles are foundation: every layer, the store included, imports them from here."""
    import importlib.util

    from basir import states

    defined_here = (
        states.RunStatus,
        states.TaskStatus,
        states.IllegalTransitionError,
        states.check_run_transition,
        states.check_task_transition,
        states.allowed_run_sources,
        states.allowed_task_sources,
    )
    assert {obj.__module__ for obj in defined_here} == {"basir.states"}
    assert set(states.RunStatus) == states.RUN_ACTIVE | states.RUN_TERMINAL
    assert states.TASK_RETRYABLE <= states.TASK_TERMINAL
    assert set(states.RUN_TRANSITIONS) == set(states.RunStatus)
    assert set(states.TASK_TRANSITIONS) == set(states.TaskStatus)
    # No second home, not even a re-export: the old engine module is gone.
    assert importlib.util.find_spec("basir.engine.states") is None
