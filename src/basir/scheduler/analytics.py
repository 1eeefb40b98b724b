"""Scheduler analytics over a window: queue waits, throughput, starvation, deadlines (pure).

Computed from store records, so the runs of `basir run` count as much as the server's.  A
task's queue wait is `started_at - queued_at` of its latest attempt; a task still queued
waits `now - queued_at` so far, which is what starvation (`longest_wait_s`) shows.  Tasks are
grouped by their run's priority class (critical 90..100, high 70..89, normal 50..69,
low 0..49) and by the named queue its latest attempt started in (`default`: no queue).
Percentiles are nearest-rank.  `throttled_s` is the time the tasks that started in the window
were held back by queue slots, concurrency keys and rate limits (`tasks.throttled_s`, part of
their queue wait).  `preemptions` sums the stored count (`tasks.preemptions`) of the tasks
queued, started or finished in the window (a preempted task is queued again at that moment, so
a preemption in the window is counted), by the preempted task's run class and queue.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from basir.errors import BasirError
from basir.i18n import _
from basir.store.records import RunRecord, TaskRecord

CLASSES = (("critical", 90), ("high", 70), ("normal", 50), ("low", 0))
DEFAULT_QUEUE = "default"


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


def _group(
    waits: list[float],
    waiting: list[float],
    finished: int,
    window_s: float,
    throttled: float = 0.0,
    preemptions: int = 0,
) -> dict[str, Any]:
    waits.sort()

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 3)

    return {
        "tasks": len(waits),
        "wait_p50_s": rounded(percentile(waits, 0.50)),
        "wait_p95_s": rounded(percentile(waits, 0.95)),
        "wait_p99_s": rounded(percentile(waits, 0.99)),
        "longest_wait_s": rounded(max([*waits, *waiting], default=None)),
        "still_waiting": len(waiting),
        "throughput_per_min": round(finished / (window_s / 60.0), 3),
        "throttled_s": round(throttled, 3),
        "preemptions": preemptions,
    }


def _active_since(task: TaskRecord, since: float) -> bool:
    """Whether the task was queued, started or finished at or after `since`."""
    moments = (task.queued_at, task.started_at, task.finished_at)
    return any(moment is not None and moment >= since for moment in moments)


def analytics(
    runs: Iterable[RunRecord],
    tasks_of: Mapping[str, list[TaskRecord]],
    now: float,
    window_s: float,
) -> dict[str, Any]:
    """The analytics of the tasks that started, finished or still wait in the window."""
    since = now - window_s
    names = [name for name, _floor in CLASSES]
    waits: dict[str, list[float]] = {name: [] for name in names}
    waiting: dict[str, list[float]] = {name: [] for name in names}
    finished = dict.fromkeys(names, 0)
    throttled = dict.fromkeys(names, 0.0)
    preempted = dict.fromkeys(names, 0)
    queues = _Queues()
    deadline_runs = deadline_met = 0
    for run in runs:
        name = priority_class(run.priority)
        if run.deadline_at is not None and run.finished_at is not None and run.finished_at >= since:
            deadline_runs += 1
            deadline_met += run.finished_at <= run.deadline_at
        for task in tasks_of.get(run.id, []):
            if task.queued_at is None:
                continue
            if task.started_at is not None and task.started_at >= since:
                waits[name].append(max(0.0, task.started_at - task.queued_at))
                throttled[name] += task.throttled_s or 0.0
            elif task.started_at is None and task.status == "queued":
                waiting[name].append(max(0.0, now - task.queued_at))
            if task.finished_at is not None and task.finished_at >= since:
                finished[name] += 1
            if task.preemptions and _active_since(task, since):
                preempted[name] += task.preemptions
            queues.add(task, since, now)
    classes = {
        n: _group(waits[n], waiting[n], finished[n], window_s, throttled[n], preempted[n])
        for n in names
    }
    return {
        "window_s": window_s,
        "classes": classes,
        "queues": queues.groups(window_s),
        "deadlines": {
            "runs": deadline_runs,
            "met": deadline_met,
            "hit_rate": round(deadline_met / deadline_runs, 4) if deadline_runs else None,
        },
    }


class _Queues:
    """The same figures per named queue (`default`: tasks in no queue)."""

    def __init__(self) -> None:
        self.waits: dict[str, list[float]] = {DEFAULT_QUEUE: []}
        self.waiting: dict[str, list[float]] = {DEFAULT_QUEUE: []}
        self.finished: dict[str, int] = {DEFAULT_QUEUE: 0}
        self.throttled: dict[str, float] = {DEFAULT_QUEUE: 0.0}
        self.preempted: dict[str, int] = {DEFAULT_QUEUE: 0}

    def add(self, task: TaskRecord, since: float, now: float) -> None:
        """Count one task with a `queued_at` in its queue's group."""
        name = task.queue or DEFAULT_QUEUE
        if name not in self.waits:
            self.waits[name], self.waiting[name] = [], []
            self.finished[name], self.throttled[name] = 0, 0.0
            self.preempted[name] = 0
        queued_at = task.queued_at or 0.0
        if task.started_at is not None and task.started_at >= since:
            self.waits[name].append(max(0.0, task.started_at - queued_at))
            self.throttled[name] += task.throttled_s or 0.0
        elif task.started_at is None and task.status == "queued":
            self.waiting[name].append(max(0.0, now - queued_at))
        if task.finished_at is not None and task.finished_at >= since:
            self.finished[name] += 1
        if task.preemptions and _active_since(task, since):
            self.preempted[name] += task.preemptions

    def groups(self, window_s: float) -> dict[str, dict[str, Any]]:
        """Each queue's group, `default` first, then by name."""
        names = [DEFAULT_QUEUE, *sorted(n for n in self.waits if n != DEFAULT_QUEUE)]
        return {
            n: _group(
                self.waits[n],
                self.waiting[n],
                self.finished[n],
                window_s,
                self.throttled[n],
                self.preempted[n],
            )
            for n in names
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
