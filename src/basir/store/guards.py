"""The errors of lost races and missing rows, worded the same by every store."""

from __future__ import annotations

from basir.store.base import ConflictError, NotFoundError, StoreError
from basir.store.records import RunUpdate, TaskUpdate


def _name(kind: str, run_id: str, task_id: str | None) -> str:
    return f"run {run_id}" if task_id is None else f"task {run_id}/{task_id}"


def not_found(kind: str, run_id: str, task_id: str | None = None) -> NotFoundError:
    """A guarded write or insert names a run or task that does not exist."""
    return NotFoundError(f"{_name(kind, run_id, task_id)} not found")


def conflict(
    kind: str,
    run_id: str,
    task_id: str | None,
    status: str,
    allowed: tuple[str, ...] | None,
) -> ConflictError:
    """A guarded write found the row in a status outside `allowed`: a race was lost."""
    return ConflictError(
        f"{_name(kind, run_id, task_id)} is {status!r}, not one of {list(allowed or ())}"
    )


def lost_race(change: RunUpdate | TaskUpdate, status: str | None) -> StoreError:
    """Why a guarded update touched no row, from the row's current `status` (None: no row).

    Every store diagnoses the same way once it has read the status its own way.
    """
    if isinstance(change, RunUpdate):
        kind, task_id = "run", None
    else:
        kind, task_id = "task", change.task_id
    if status is None:
        return not_found(kind, change.run_id, task_id)
    return conflict(kind, change.run_id, task_id, status, change.from_statuses)


def duplicate(kind: str, run_id: str, task_id: str | None = None) -> ConflictError:
    """An insert found the run or task already there."""
    return ConflictError(f"{_name(kind, run_id, task_id)} already exists")


def check_unique_tasks(run_id: str, task_ids: list[str]) -> None:
    """Raise `ConflictError` for the first task id that a new run lists twice."""
    seen: set[str] = set()
    for task_id in task_ids:
        if task_id in seen:
            raise duplicate("task", run_id, task_id)
        seen.add(task_id)
