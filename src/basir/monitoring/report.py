"""The performance report: per workflow and task, what ran, how well and how fast.

Pure: `build_report` folds runs and their task rows (as the store returns them) into figures;
`basir.monitoring.report_source` reads them from the store page by page, and
`basir.monitoring.report_render` writes text, JSON, CSV or HTML.

Definitions (docs/reference/reports.md says the same for users):
- a run counts in the window when it was *created* in `[since, until)`; figures are over the
  runs that ended (`succeeded`, `failed`, `cancelled`); the others are `in_progress`;
- success rate = successes / (successes + failures), cancelled runs aside; None without any;
- a duration is `finished_at - started_at` (of a task: of its final attempt); a queue wait is
  a task's `started_at - queued_at`; retries are attempts beyond the first;
- a run with a deadline hits it when it ended at or before `deadline_at`;
- a failure reason is the first line of a failed task's error (of the run's own error when no
  task failed), at most `REASON_MAX_CHARS`; the `TOP_REASONS` most frequent are listed
  (ties alphabetically);
- foreach instances (`id[0]`, `id[1]` …) are counted through their parent task.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from basir.i18n.deferred import is_message, message_key, render_message
from basir.store.records import RunFacts, RunRecord, TaskFacts, TaskRecord

FINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
TOP_REASONS = 3
REASON_MAX_CHARS = 160


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """The `p`-th percentile (0..100) of ascending values, linearly interpolated; None if empty."""
    if not sorted_values:
        return None
    rank = (len(sorted_values) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    fraction = rank - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * fraction


@dataclass(slots=True)
class Summary:
    """Count and p50/p95/p99 of a set of durations in seconds."""

    count: int = 0
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None

    @classmethod
    def of(cls, values: Iterable[float]) -> Summary:
        """Summarise `values` (any order)."""
        ordered = sorted(values)
        return cls(
            len(ordered),
            percentile(ordered, 50),
            percentile(ordered, 95),
            percentile(ordered, 99),
        )


@dataclass(slots=True)
class Tally:
    """Outcomes counted for a workflow or a task, with the raw figures kept until summarised."""

    successes: int = 0
    failures: int = 0
    cancelled: int = 0
    retries: int = 0
    durations: list[float] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)

    def outcome(self, status: str) -> None:
        """Count one ended run or task by its final status."""
        if status == "succeeded":
            self.successes += 1
        elif status == "failed":
            self.failures += 1
        elif status == "cancelled":
            self.cancelled += 1


@dataclass(slots=True)
class TaskFigures:
    """The figures of one task of one workflow."""

    task: str
    runs: int
    successes: int
    failures: int
    cancelled: int
    success_rate: float | None
    retries: int
    duration: Summary
    queue_wait: Summary
    top_failures: list[tuple[str, int]]


@dataclass(slots=True)
class WorkflowFigures:
    """The figures of one workflow, with its tasks'."""

    workflow: str
    runs: int
    in_progress: int
    successes: int
    failures: int
    cancelled: int
    success_rate: float | None
    retries: int
    duration: Summary
    queue_wait: Summary
    deadline_runs: int
    deadline_hits: int
    deadline_hit_rate: float | None
    top_failures: list[tuple[str, int]]
    tasks: list[TaskFigures]


@dataclass(slots=True)
class PerformanceReport:
    """Every workflow with runs created in `[since, until)`."""

    since: float
    until: float
    generated_at: float
    workflows: list[WorkflowFigures]


def reason_of(error: str | None) -> str | None:
    """How failures are grouped: a stored message's id and parameters (whatever the language
    of its reader, without its output lines), else the first line of an error, shortened.

    Show a reason with `shown_reason`.
    """
    if not error:
        return None
    if is_message(error):
        return message_key(error)
    line = error.strip().splitlines()[0] if error.strip() else ""
    return line[:REASON_MAX_CHARS] or None


def shown_reason(reason: str) -> str:
    """A reason (`reason_of`) in the active locale, shortened."""
    return render_message(reason)[:REASON_MAX_CHARS]


def rate(hits: int, total: int) -> float | None:
    """`hits / total`, None when there is nothing to divide."""
    return hits / total if total else None


@dataclass(slots=True)
class _WorkflowTally:
    run: Tally = field(default_factory=Tally)
    tasks: dict[str, Tally] = field(default_factory=dict)
    runs: int = 0
    in_progress: int = 0
    deadline_runs: int = 0
    deadline_hits: int = 0


class ReportBuilder:
    """Folds runs (with their task rows) into the report, one page at a time."""

    def __init__(self, since: float, until: float) -> None:
        self.since = since
        self.until = until
        self._workflows: dict[str, _WorkflowTally] = {}

    def add(
        self, run: RunRecord | RunFacts, tasks: Iterable[TaskRecord] | Iterable[TaskFacts]
    ) -> None:
        """Count one run created in the window and its task rows (records or report facts)."""
        if not self.since <= run.created_at < self.until:
            return
        tally = self._workflows.get(run.workflow)
        if tally is None:
            tally = self._workflows[run.workflow] = _WorkflowTally()
        tally.runs += 1
        if run.status not in FINAL_STATUSES:
            tally.in_progress += 1
            return
        tally.run.outcome(run.status)
        if run.started_at is not None and run.finished_at is not None:
            tally.run.durations.append(max(0.0, run.finished_at - run.started_at))
        if run.deadline_at is not None:
            tally.deadline_runs += 1
            if run.finished_at is not None and run.finished_at <= run.deadline_at:
                tally.deadline_hits += 1
        failed_reasons = self._add_tasks(tally, tasks)
        if run.status == "failed":
            own = reason_of(run.error)
            tally.run.reasons.update(failed_reasons or ([own] if own else []))

    @staticmethod
    def _add_tasks(
        tally: _WorkflowTally, tasks: Iterable[TaskRecord] | Iterable[TaskFacts]
    ) -> list[str]:
        failed: list[str] = []
        for task in tasks:
            if getattr(task, "parent_id", None) is not None:
                continue  # a foreach instance: counted through its parent
            figures = tally.tasks.get(task.task_id)
            if figures is None:
                figures = tally.tasks[task.task_id] = Tally()
            figures.outcome(task.status)
            retries = max(0, task.attempts - 1)
            figures.retries += retries
            tally.run.retries += retries
            if task.started_at is not None and task.finished_at is not None:
                figures.durations.append(max(0.0, task.finished_at - task.started_at))
            if task.started_at is not None and task.queued_at is not None:
                wait = max(0.0, task.started_at - task.queued_at)
                figures.waits.append(wait)
                tally.run.waits.append(wait)
            if task.status == "failed":
                reason = reason_of(task.error)
                if reason:
                    figures.reasons[reason] += 1
                    failed.append(reason)
        return failed

    def build(self, generated_at: float) -> PerformanceReport:
        """The report of everything added, workflows and tasks by name."""
        workflows = [
            _workflow_figures(name, self._workflows[name]) for name in sorted(self._workflows)
        ]
        return PerformanceReport(self.since, self.until, generated_at, workflows)


def top_reasons(counter: Counter[str]) -> list[tuple[str, int]]:
    """The `TOP_REASONS` most frequent reasons (ties in alphabetical order)."""
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:TOP_REASONS]


def task_figures(name: str, tally: Tally) -> TaskFigures:
    """The figures of one task from its tally."""
    return TaskFigures(
        task=name,
        runs=tally.successes + tally.failures + tally.cancelled,
        successes=tally.successes,
        failures=tally.failures,
        cancelled=tally.cancelled,
        success_rate=rate(tally.successes, tally.successes + tally.failures),
        retries=tally.retries,
        duration=Summary.of(tally.durations),
        queue_wait=Summary.of(tally.waits),
        top_failures=top_reasons(tally.reasons),
    )


def _workflow_figures(name: str, tally: _WorkflowTally) -> WorkflowFigures:
    run = tally.run
    return WorkflowFigures(
        workflow=name,
        runs=tally.runs,
        in_progress=tally.in_progress,
        successes=run.successes,
        failures=run.failures,
        cancelled=run.cancelled,
        success_rate=rate(run.successes, run.successes + run.failures),
        retries=run.retries,
        duration=Summary.of(run.durations),
        queue_wait=Summary.of(run.waits),
        deadline_runs=tally.deadline_runs,
        deadline_hits=tally.deadline_hits,
        deadline_hit_rate=rate(tally.deadline_hits, tally.deadline_runs),
        top_failures=top_reasons(run.reasons),
        tasks=[task_figures(task, tally.tasks[task]) for task in sorted(tally.tasks)],
    )
