"""Errors the engine raises for a caller's request (not for a task's failure)."""

from __future__ import annotations

from basir.errors import BasirError, ConflictError, NotFoundError
from basir.i18n import _


def run_not_found(run_id: str) -> NotFoundError:
    """No run with this id."""
    return NotFoundError("run.not_found", _("no run with id {run_id}", run_id=run_id))


def task_not_found(run_id: str, task_id: str) -> NotFoundError:
    """No task with this id in the run."""
    return NotFoundError(
        "task.not_found", _("run {run_id} has no task {task_id}", run_id=run_id, task_id=task_id)
    )


def run_not_active(run_id: str, status: str) -> ConflictError:
    """A control that needs a live run was sent to a finished one."""
    return ConflictError(
        "run.not_active",
        _("run {run_id} is {status}: it is no longer active", run_id=run_id, status=_(status)),
    )


def run_not_finished(run_id: str, status: str) -> ConflictError:
    """Retry was asked of a run that is still going."""
    return ConflictError(
        "run.not_finished",
        _(
            "run {run_id} is {status}: only a finished run can be retried",
            run_id=run_id,
            status=_(status),
        ),
    )


def engine_fault(text: str) -> BasirError:
    """The engine stopped on an error of its own; the run continues with `basir resume`."""
    return BasirError(
        "engine.fault",
        _("the engine stopped on an internal error ({error}); resume the run to go on", error=text),
    )
