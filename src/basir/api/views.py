"""Records → the plain JSON shapes the API returns (documented by `api.schemas`)."""

from __future__ import annotations

from typing import Any

from basir.engine.report import iso, logical_time
from basir.i18n.deferred import render_message
from basir.store.audit_records import AuditEntry
from basir.store.records import RunRecord, TaskRecord, WorkflowVersion


def workflow_summary(workflow: WorkflowVersion) -> dict[str, Any]:
    """A workflow version without its spec."""
    description = workflow.spec.get("description")
    if not isinstance(description, str | dict):
        description = None
    return {
        "name": workflow.name,
        "version": workflow.version,
        "namespace": workflow.namespace,
        "description": description,
        "spec_hash": workflow.spec_hash,
        "created_at": iso(workflow.created_at),
        "created_by": workflow.created_by,
    }


def workflow_detail(workflow: WorkflowVersion) -> dict[str, Any]:
    """A workflow version with its canonical spec."""
    return {**workflow_summary(workflow), "spec": workflow.spec}


def run_summary(run: RunRecord) -> dict[str, Any]:
    """A run as listed (no tasks)."""
    return {
        "run_id": run.id,
        "workflow": run.workflow,
        "version": run.version,
        "status": str(run.status),
        "priority": run.priority,
        "trigger": run.trigger,
        "logical_time": logical_time(run),
        "created_by": run.created_by,
        "error": render_message(run.error),
        "created_at": iso(run.created_at),
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "deadline_at": iso(run.deadline_at),
    }


def run_view(run: RunRecord, tasks: list[TaskRecord]) -> dict[str, Any]:
    """A run with its tasks: the DESIGN §6 shape plus timestamps (the engine's own report)."""
    from basir.engine.report import run_to_dict

    return run_to_dict(run, tasks, timestamps=True)


def task_state(task: TaskRecord) -> dict[str, Any]:
    """A task after a control (pause / resume)."""
    return {
        "run_id": task.run_id,
        "task_id": task.task_id,
        "status": str(task.status),
        "attempts": task.attempts,
        "held": task.held,
        "hold_until": iso(task.hold_until),
    }


def audit_entry(entry: AuditEntry) -> dict[str, Any]:
    """An audit log entry: its fields, its time both as ISO 8601 and as the hashed epoch
    seconds (`timestamp`), and its two hashes, so an exported log can be verified offline."""
    return {
        "id": entry.id,
        "time": iso(entry.time),
        "timestamp": entry.time,
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "status": entry.status,
        "detail": entry.detail,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }
