"""DAG progression as plain functions: what a task's end changes for the tasks around it.

No I/O, no clock, no store: each function reads (and, for `count_down`, updates the counters
of) in-memory `TaskState`s, and the flow (`engine.flow`) turns the answers into recorded
transitions.  The walk over the DAG is the flow's worklist; nothing here recurses.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from basir.engine.rules import Gate, aggregate_instances, gate, run_outcome, upstream_of
from basir.engine.state import RunState, TaskState
from basir.states import RUN_TERMINAL, RunStatus, TaskStatus


@dataclass(frozen=True, slots=True)
class Released:
    """What a task's end touched: its foreach parent, and dependants now free to be decided."""

    parent: TaskState | None
    unblocked: list[TaskState]


def count_down(task: TaskState, tasks: Mapping[str, TaskState]) -> Released:
    """Count an ended task off its parent's open instances and its dependants' unmet needs."""
    parent = None
    if task.parent is not None:
        parent = tasks[task.parent]
        parent.open_instances -= 1
    unblocked: list[TaskState] = []
    for dependent_id in task.dependents:
        dependent = tasks[dependent_id]
        dependent.remaining -= 1
        if dependent.remaining == 0 and dependent.status == TaskStatus.PENDING:
            unblocked.append(dependent)
    return Released(parent, unblocked)


def verdict(task: TaskState, tasks: Mapping[str, TaskState], cancel_requested: bool) -> Gate:
    """The gate of a pending task whose needs have all ended (its `if:` is judged after)."""
    if cancel_requested:
        return Gate.CANCEL
    return gate(
        task.spec.when,
        (
            upstream_of(tasks[need].status, tasks[need].spec.continue_on_error)
            for need in task.needs
        ),
    )


GATE_STATUS = {
    Gate.SKIP: TaskStatus.SKIPPED,
    Gate.UPSTREAM_FAILED: TaskStatus.UPSTREAM_FAILED,
    Gate.CANCEL: TaskStatus.CANCELLED,
}


def parent_outcome(
    parent: TaskState, tasks: Mapping[str, TaskState]
) -> tuple[TaskStatus, dict[str, object]] | None:
    """A running foreach parent's final status and outputs once its instances ended, else None."""
    if parent.status != TaskStatus.RUNNING or parent.open_instances > 0:
        return None
    instances = [tasks[i] for i in parent.instances]
    status = aggregate_instances((i.status for i in instances), parent.spec.continue_on_error)
    return status, {"items": [i.outputs for i in instances]}


def run_settled(run: RunState) -> RunStatus | None:
    """The final status of a run none of whose tasks is unfinished, else None."""
    if run.unfinished > 0 or RunStatus(run.record.status) in RUN_TERMINAL:
        return None
    return run_outcome(
        ((t.status, t.spec.continue_on_error) for t in run.tasks.values() if t.parent is None),
        run.cancel_requested,
    )


def ready_to_decide(run: RunState) -> Iterator[TaskState]:
    """Top-level pending tasks whose needs have all ended (foreach instances are left out)."""
    for task in list(run.tasks.values()):
        if task.status == TaskStatus.PENDING and task.remaining == 0 and task.parent is None:
            yield task
