"""The public JSON shape of a run (DESIGN §6), shared by `basir run --json` and the API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from basir.i18n import render_message
from basir.store.records import RunRecord, TaskRecord


def iso(timestamp: float | None) -> str | None:
    """Epoch seconds → RFC 3339 UTC text (None stays None)."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


def logical_time(run: RunRecord) -> str:
    """The time the run stands for: a scheduled or backfilled run's fire, in its schedule's
    offset; when it was created (UTC) for any other run."""
    return run.logical_time or iso(run.created_at) or ""


def task_to_dict(task: TaskRecord, *, timestamps: bool = False) -> dict[str, Any]:
    """One entry of a run's `tasks` map: status, attempts, outputs (+ error, times)."""
    entry: dict[str, Any] = {
        "status": str(task.status),
        "attempts": task.attempts,
        "outputs": task.outputs or {},
    }
    if task.error:
        entry["error"] = render_message(task.error)  # in the reader's language
    if task.waiting and task.status == "queued":  # why it has not started: cpu, memory, a pool
        entry["waiting"] = render_message(task.waiting)  # in the reader's language
    if task.usage:  # what its latest ended attempt used (cpu seconds, peak cpu and memory)
        entry["usage"] = task.usage
    if task.preemptions:  # attempts stopped for a critical task (not counted in `attempts`)
        entry["preemptions"] = task.preemptions
    if timestamps:
        entry.update(
            queued_at=iso(task.queued_at),
            started_at=iso(task.started_at),
            finished_at=iso(task.finished_at),
            held=task.held,
        )
        if task.parent_id is not None:
            entry["parent"] = task.parent_id
            entry["index"] = task.item_index
    return entry


def _in_order(tasks: list[TaskRecord]) -> list[TaskRecord]:
    """Tasks in spec order, each foreach parent followed by its instances."""
    instances: dict[str, list[TaskRecord]] = {}
    for task in tasks:
        if task.parent_id is not None:
            instances.setdefault(task.parent_id, []).append(task)
    ordered: list[TaskRecord] = []
    for task in tasks:
        if task.parent_id is None:
            ordered.append(task)
            ordered.extend(instances.get(task.task_id, ()))
    return ordered


def run_to_dict(
    run: RunRecord, tasks: list[TaskRecord], *, timestamps: bool = False
) -> dict[str, Any]:
    """`{"run_id", "workflow", "version", "status", "tasks": {...}}`, plus times if asked."""
    result: dict[str, Any] = {
        "run_id": run.id,
        "workflow": run.workflow,
        "version": run.version,
        "status": str(run.status),
        "tasks": {
            task.task_id: task_to_dict(task, timestamps=timestamps) for task in _in_order(tasks)
        },
    }
    if run.error:
        result["error"] = render_message(run.error)
    if timestamps:
        result.update(
            params=run.params,
            priority=run.priority,
            namespace=run.namespace,
            trigger=run.trigger,
            logical_time=logical_time(run),
            created_by=run.created_by,
            created_at=iso(run.created_at),
            started_at=iso(run.started_at),
            finished_at=iso(run.finished_at),
            updated_at=iso(run.updated_at),
            deadline_at=iso(run.deadline_at),
        )
    return result
