"""Deadlines: when a task is due, and whether the work left can still make it (pure).

A task's `deadline:` counts from its run's start, like the run's; the ready queue orders by
the earlier of the two (`task_deadline_at`).  `remaining_s` estimates the time the unfinished
work needs: the longest path (critical path) through the tasks not yet ended, each costing
its median duration in earlier successful runs of the workflow (`median_durations`), a
running task only what is left of its estimate.  When `now + remaining_s` passes the
deadline, the deadline is at risk.  The DAG is walked with a worklist (Kahn's order), never
recursively.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from basir.store.records import TaskRecord

RECHECK_MIN_S = 1.0  # the at-risk check re-runs at most this often while there is slack


@dataclass(frozen=True, slots=True)
class Node:
    """One task as the estimate sees it."""

    needs: tuple[str, ...] = ()
    done: bool = False
    started_at: float | None = None  # set while it runs


def task_deadline_at(
    run_deadline_at: float | None, run_started_at: float | None, task_deadline_s: float | None
) -> float | None:
    """The earlier of the run's deadline and the task's own (`deadline:` from run start)."""
    own = None
    if task_deadline_s is not None and run_started_at is not None:
        own = run_started_at + task_deadline_s
    if own is None or (run_deadline_at is not None and run_deadline_at < own):
        return run_deadline_at
    return own


def median_durations(runs: Iterable[Iterable[TaskRecord]]) -> dict[str, float]:
    """Median run time of each task id over earlier runs (tasks that succeeded only)."""
    samples: dict[str, list[float]] = {}
    for tasks in runs:
        for task in tasks:
            if task.status != "succeeded" or task.started_at is None or task.finished_at is None:
                continue
            samples.setdefault(task.task_id, []).append(task.finished_at - task.started_at)
    return {task_id: statistics.median(values) for task_id, values in samples.items()}


def remaining_s(
    nodes: Mapping[str, Node],
    estimates: Mapping[str, float],
    now: float,
    target: str | None = None,
) -> float:
    """Seconds the unfinished work needs from `now`: the critical path of what is left.

    With `target`, only the work that `target` waits for (and `target` itself) counts.
    """
    children: dict[str, list[str]] = {task_id: [] for task_id in nodes}
    waiting = {task_id: 0 for task_id in nodes}
    for task_id, node in nodes.items():
        for need in node.needs:
            if need in children:
                children[need].append(task_id)
                waiting[task_id] += 1
    finish: dict[str, float] = {}
    ready = deque(task_id for task_id, count in waiting.items() if count == 0)
    while ready:
        task_id = ready.popleft()
        node = nodes[task_id]
        start = max((finish[n] for n in node.needs if n in finish), default=0.0)
        finish[task_id] = start + _own_cost(node, estimates.get(task_id, 0.0), now)
        for child in children[task_id]:
            waiting[child] -= 1
            if waiting[child] == 0:
                ready.append(child)
    if target is not None:
        return finish.get(target, 0.0)
    return max(finish.values(), default=0.0)


def _own_cost(node: Node, estimate: float, now: float) -> float:
    if node.done:
        return 0.0
    if node.started_at is not None:
        return max(0.0, estimate - (now - node.started_at))
    return estimate


def at_risk(deadline_at: float, now: float, remaining: float) -> bool:
    """Whether the work left, started now, would end after the deadline."""
    return now + remaining > deadline_at


def next_check_in(deadline_at: float, now: float, remaining: float) -> float:
    """When to look again while there is slack: when the slack would be used up."""
    return max(RECHECK_MIN_S, deadline_at - now - remaining)
