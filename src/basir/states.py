"""The two lifecycles (runs and tasks), their named sets, and the only allowed transitions.

Stored values are permanent names: never rename a member.  Only `engine.transitions` moves a
state, and it checks every move against the tables below.
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """Lifecycle of a run: queued → running ⇄ paused → succeeded | failed | cancelled."""

    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class TaskStatus(StrEnum):
    """Lifecycle of one task (or one `foreach` instance) inside a run."""

    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    UPSTREAM_FAILED = "upstream_failed"


RUN_TERMINAL = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED})
RUN_ACTIVE = frozenset({RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSED})

TASK_TERMINAL = frozenset(
    {
        TaskStatus.SUCCEEDED,
        TaskStatus.FAILED,
        TaskStatus.SKIPPED,
        TaskStatus.CANCELLED,
        TaskStatus.UPSTREAM_FAILED,
    }
)
# States a `basir runs retry` puts back to work (same run id, succeeded tasks kept).
TASK_RETRYABLE = frozenset({TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.UPSTREAM_FAILED})

RUN_TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.QUEUED: frozenset({RunStatus.RUNNING, RunStatus.PAUSED, RunStatus.CANCELLED}),
    RunStatus.RUNNING: frozenset(
        {RunStatus.PAUSED, RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED}
    ),
    RunStatus.PAUSED: frozenset(
        # A paused run whose last running tasks end is finished: nothing is left to hold.
        {RunStatus.RUNNING, RunStatus.CANCELLED, RunStatus.FAILED, RunStatus.SUCCEEDED}
    ),
    # A finished run can be retried in place: its failed and cancelled tasks run again.
    RunStatus.FAILED: frozenset({RunStatus.RUNNING}),
    RunStatus.CANCELLED: frozenset({RunStatus.RUNNING}),
    RunStatus.SUCCEEDED: frozenset(),
}

TASK_TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.PENDING: frozenset(
        {
            TaskStatus.QUEUED,
            TaskStatus.SKIPPED,
            TaskStatus.UPSTREAM_FAILED,
            TaskStatus.CANCELLED,
            TaskStatus.SUCCEEDED,  # a foreach parent whose instances all succeeded
            TaskStatus.FAILED,  # a task whose inputs cannot be evaluated, or a foreach parent
        }
    ),
    TaskStatus.QUEUED: frozenset({TaskStatus.RUNNING, TaskStatus.CANCELLED, TaskStatus.PENDING}),
    TaskStatus.RUNNING: frozenset(
        {
            TaskStatus.SUCCEEDED,
            TaskStatus.FAILED,
            TaskStatus.RETRYING,
            TaskStatus.CANCELLED,
            TaskStatus.QUEUED,  # interrupted (crash, shutdown, task pause): runs again
        }
    ),
    TaskStatus.RETRYING: frozenset({TaskStatus.QUEUED, TaskStatus.CANCELLED}),
    TaskStatus.SUCCEEDED: frozenset(),
    TaskStatus.SKIPPED: frozenset(),
    TaskStatus.FAILED: frozenset({TaskStatus.PENDING}),
    TaskStatus.CANCELLED: frozenset({TaskStatus.PENDING}),
    TaskStatus.UPSTREAM_FAILED: frozenset({TaskStatus.PENDING}),
}


class IllegalTransitionError(RuntimeError):
    """A state change the tables above do not allow: always a bug, never user error."""


def check_run_transition(current: RunStatus, target: RunStatus) -> None:
    """Raise `IllegalTransitionError` unless `current → target` is in `RUN_TRANSITIONS`."""
    if target not in RUN_TRANSITIONS[current]:
        raise IllegalTransitionError(f"run: {current} -> {target}")


def check_task_transition(current: TaskStatus, target: TaskStatus) -> None:
    """Raise `IllegalTransitionError` unless `current → target` is in `TASK_TRANSITIONS`."""
    if target not in TASK_TRANSITIONS[current]:
        raise IllegalTransitionError(f"task: {current} -> {target}")


def allowed_task_sources(target: TaskStatus) -> frozenset[TaskStatus]:
    """Every state from which `target` may be reached: the guard of a stored transition."""
    return frozenset(s for s, targets in TASK_TRANSITIONS.items() if target in targets)


def allowed_run_sources(target: RunStatus) -> frozenset[RunStatus]:
    """Every run state from which `target` may be reached."""
    return frozenset(s for s, targets in RUN_TRANSITIONS.items() if target in targets)
