"""The performance report from the figures a SQL store computed (`Store.report_aggregate`).

Pure, and the same definitions as `basir.monitoring.report` (whose fold of runs stays for
stores that cannot aggregate, and as the reference the tests compare this one with): counts
come summed per workflow and task, percentiles from the durations and waits (sorted here),
failure reasons from the failed rows only.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from basir.monitoring.report import (
    PerformanceReport,
    Summary,
    Tally,
    TaskFigures,
    WorkflowFigures,
    rate,
    reason_of,
    task_figures,
    top_reasons,
)
from basir.store.records import ReportAggregate

Group = tuple[str, str]


def tallies(agg: ReportAggregate) -> tuple[dict[Group, Tally], dict[str, list[float]]]:
    """Outcomes, retries, durations and waits per (workflow, task); waits per workflow."""
    found: dict[Group, Tally] = {}
    run_waits: dict[str, list[float]] = defaultdict(list)
    for workflow, task, status, attempts, duration, wait in agg.task_values:
        tally = found.get((workflow, task))
        if tally is None:
            tally = found[(workflow, task)] = Tally()
        tally.outcome(status)
        if attempts > 1:
            tally.retries += attempts - 1
        if duration is not None:
            tally.durations.append(duration)
        if wait is not None:
            tally.waits.append(wait)
            run_waits[workflow].append(wait)
    return found, run_waits


def _reasons(agg: ReportAggregate) -> tuple[dict[str, Counter[str]], dict[Group, Counter[str]]]:
    """Failure reasons per workflow (of failed runs) and per task (of failed tasks)."""
    per_task: dict[Group, Counter[str]] = defaultdict(Counter)
    of_runs: dict[str, list[str]] = defaultdict(list)
    for workflow, task, run_id, run_status, error in agg.failed_tasks:
        reason = reason_of(error)
        if reason:
            per_task[(workflow, task)][reason] += 1
            if run_status == "failed":
                of_runs[run_id].append(reason)
    per_workflow: dict[str, Counter[str]] = defaultdict(Counter)
    for workflow, run_id, error in agg.failed_runs:
        own = reason_of(error)
        per_workflow[workflow].update(of_runs.get(run_id) or ([own] if own else []))
    return per_workflow, per_task


def report_of(agg: ReportAggregate, since: float, until: float, now: float) -> PerformanceReport:
    """The report of the aggregated figures, workflows and tasks by name."""
    run_durations: dict[str, list[float]] = defaultdict(list)
    for workflow, duration in agg.run_values:
        run_durations[workflow].append(duration)
    per_task, run_waits = tallies(agg)
    run_reasons, task_reasons = _reasons(agg)
    tasks: dict[str, list[TaskFigures]] = defaultdict(list)
    retries: Counter[str] = Counter()
    for (workflow, task), tally in sorted(per_task.items()):
        tally.reasons = task_reasons.get((workflow, task), Counter())
        retries[workflow] += tally.retries
        tasks[workflow].append(task_figures(task, tally))
    workflows = []
    for row in sorted(agg.runs):
        workflow, runs, in_progress, successes, failures, cancelled, deadlines, hits = row
        workflows.append(
            WorkflowFigures(
                workflow=workflow,
                runs=int(runs),
                in_progress=int(in_progress),
                successes=int(successes),
                failures=int(failures),
                cancelled=int(cancelled),
                success_rate=rate(int(successes), int(successes + failures)),
                retries=retries[workflow],
                duration=Summary.of(run_durations.get(workflow, [])),
                queue_wait=Summary.of(run_waits.get(workflow, [])),
                deadline_runs=int(deadlines),
                deadline_hits=int(hits),
                deadline_hit_rate=rate(int(hits), int(deadlines)),
                top_failures=top_reasons(run_reasons.get(workflow, Counter())),
                tasks=tasks.get(workflow, []),
            )
        )
    return PerformanceReport(since, until, now, workflows)
