"""The transition tables are the only way a state moves."""

from __future__ import annotations

import pytest

from basir.engine.states import (
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
    from basir.engine.states import RUN_TRANSITIONS, TASK_TRANSITIONS

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
