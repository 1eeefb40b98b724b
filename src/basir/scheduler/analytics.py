"""Scheduler analytics over a window: queue waits, throughput, starvation, deadlines (pure).

Computed from store records, so the runs of `basir run` count as much as the server's.  A
task's queue wait is `started_at - queued_at` of its latest attempt; a task still queued
waits `now - queued_at` so far, which is what starvation (`longest_wait_s`) shows.  Tasks are
grouped by their own priority class (a task's `priority:` wins over its run's, as in the queue
order; critical 90..100, high 70..89, normal 50..69, low 0..49) and by the named queue its
latest attempt started in (`default`: no queue).  Percentiles are nearest-rank.  `throttled_s`
is the time the tasks that started in the window were held back by queue slots, concurrency
keys and rate limits (`tasks.throttled_s`, part of their queue wait).  `preemptions` sums the
stored count (`tasks.preemptions`) of the tasks queued, started or finished in the window (a
preempted task is queued again at that moment, so a preemption in the window is counted), by
the preempted task's class and queue.  Each group's deadline hit rate counts its tasks with a
deadline (their own or their run's) that finished in the window, met when they finished by it,
and the unfinished ones whose deadline passed in the window, as missed; `deadlines` counts runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from basir.errors import BasirError
from basir.i18n import _
from basir.store.records import RunRecord, TaskRecord

CLASSES = (("critical", 90), ("high", 70), ("normal", 50), ("low", 0))
DEFAULT_QUEUE = "default"
# Task states in which a task will not run any more (skipped, cancelled, ...): a deadline that
# passes then is nobody's miss.
_ENDED = frozenset({"succeeded", "failed", "skipped", "cancelled", "upstream_failed"})


class TaskFacts(NamedTuple):
    """What analytics needs of a task beyond its record: whom it ranks with and its deadline."""

    priority: int
    deadline_at: float | None


def priority_class(priority: int) -> str:
    """The class name of a numeric priority."""
    for name, floor in CLASSES:
        if priority >= floor:
            return name
    return "low"


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of sorted `values` (None when empty)."""
    if not values:
        return None
    rank = max(1, math.ceil(fraction * len(values)))
    return values[rank - 1]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


@dataclass(slots=True)
class _Group:
    """The figures of one priority class or one queue while tasks are counted."""

    waits: list[float] = field(default_factory=list)
    waiting: list[float] = field(default_factory=list)
    finished: int = 0
    throttled: float = 0.0
    preempted: int = 0
    deadline_tasks: int = 0
    deadline_met: int = 0

    def add(self, task: TaskRecord, deadline_at: float | None, since: float, now: float) -> None:
        """Count one task with a `queued_at`; `deadline_at` is its own or its run's."""
        queued_at = task.queued_at or 0.0
        if task.started_at is not None and task.started_at >= since:
            self.waits.append(max(0.0, task.started_at - queued_at))
            self.throttled += task.throttled_s or 0.0
        elif task.started_at is None and task.status == "queued":
            self.waiting.append(max(0.0, now - queued_at))
        if task.finished_at is not None and task.finished_at >= since:
            self.finished += 1
        if task.preemptions and _active_since(task, since):
            self.preempted += task.preemptions
        if deadline_at is None:
            return
        if task.finished_at is not None and task.started_at is not None:
            if task.finished_at >= since:
                self.deadline_tasks += 1
                self.deadline_met += task.finished_at <= deadline_at
        elif task.status not in _ENDED and since <= deadline_at <= now:
            self.deadline_tasks += 1  # not done and its deadline has passed: missed

    def figures(self, window_s: float) -> dict[str, Any]:
        """The group as the API shows it."""
        waits = sorted(self.waits)
        tasks, met = self.deadline_tasks, self.deadline_met
        return {
            "tasks": len(waits),
            "wait_p50_s": _rounded(percentile(waits, 0.50)),
            "wait_p95_s": _rounded(percentile(waits, 0.95)),
            "wait_p99_s": _rounded(percentile(waits, 0.99)),
            "longest_wait_s": _rounded(max([*waits, *self.waiting], default=None)),
            "still_waiting": len(self.waiting),
            "throughput_per_min": round(self.finished / (window_s / 60.0), 3),
            "throttled_s": round(self.throttled, 3),
            "preemptions": self.preempted,
            "deadline_tasks": tasks,
            "deadline_met": met,
            "deadline_hit_rate": round(met / tasks, 4) if tasks else None,
        }


def _active_since(task: TaskRecord, since: float) -> bool:
    """Whether the task was queued, started or finished at or after `since`."""
    moments = (task.queued_at, task.started_at, task.finished_at)
    return any(moment is not None and moment >= since for moment in moments)


def run_facts(run: RunRecord, task: TaskRecord) -> TaskFacts:
    """A task's facts when nothing more is known than its run: the run's priority and deadline."""
    return TaskFacts(run.priority, run.deadline_at)


def analytics(
    runs: Iterable[RunRecord],
    tasks_of: Mapping[str, list[TaskRecord]],
    now: float,
    window_s: float,
    facts: Callable[[RunRecord, TaskRecord], TaskFacts] = run_facts,
) -> dict[str, Any]:
    """The analytics of the tasks that started, finished or still wait in the window.

    `facts` gives each task's effective priority (its own `priority:` wins over its run's)
    and deadline (the earlier of its own and its run's); by default, its run's.
    """
    since = now - window_s
    classes = {name: _Group() for name, _floor in CLASSES}
    queues = {DEFAULT_QUEUE: _Group()}
    deadline_runs = deadline_met = 0
    for run in runs:
        if run.deadline_at is not None and run.finished_at is not None and run.finished_at >= since:
            deadline_runs += 1
            deadline_met += run.finished_at <= run.deadline_at
        for task in tasks_of.get(run.id, []):
            if task.queued_at is None:
                continue
            known = facts(run, task)
            classes[priority_class(known.priority)].add(task, known.deadline_at, since, now)
            queue = queues.setdefault(task.queue or DEFAULT_QUEUE, _Group())
            queue.add(task, known.deadline_at, since, now)
    names = [DEFAULT_QUEUE, *sorted(n for n in queues if n != DEFAULT_QUEUE)]
    return {
        "window_s": window_s,
        "classes": {name: group.figures(window_s) for name, group in classes.items()},
        "queues": {name: queues[name].figures(window_s) for name in names},
        "deadlines": {
            "runs": deadline_runs,
            "met": deadline_met,
            "hit_rate": round(deadline_met / deadline_runs, 4) if deadline_runs else None,
        },
    }


MAX_WINDOW_S = 30 * 86_400.0


def parse_window(text: str) -> float:
    """`1h`-style window, 1 s to 30 d; `request.invalid` otherwise."""
    from basir.spec.units import parse_duration

    try:
        seconds = parse_duration(text)
    except ValueError:
        seconds = -1.0
    if not 1.0 <= seconds <= MAX_WINDOW_S:
        raise BasirError(
            "request.invalid",
            _("window must be a duration from 1s to 30d, such as 1h, not {text}", text=text),
        )
    return seconds
