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
    TaskFigures,
    WorkflowFigures,
    rate,
    reason_of,
    top_reasons,
)
from basir.store.records import ReportAggregate

Group = tuple[str, str]


def summaries(
    agg: ReportAggregate,
) -> tuple[dict[str, Summary], dict[str, Summary], dict[Group, Summary], dict[Group, Summary]]:
    """Run durations and waits per workflow, task durations and waits per (workflow, task)."""
    run_durations: dict[str, list[float]] = defaultdict(list)
    for workflow, duration in agg.run_values:
        run_durations[workflow].append(duration)
    run_waits: dict[str, list[float]] = defaultdict(list)
    durations: dict[Group, list[float]] = defaultdict(list)
    waits: dict[Group, list[float]] = defaultdict(list)
    for workflow, task, duration, wait in agg.task_values:
        if duration is not None:
            durations[(workflow, task)].append(duration)
        if wait is not None:
            waits[(workflow, task)].append(wait)
            run_waits[workflow].append(wait)
    return (
        {k: Summary.of(v) for k, v in run_durations.items()},
        {k: Summary.of(v) for k, v in run_waits.items()},
        {k: Summary.of(v) for k, v in durations.items()},
        {k: Summary.of(v) for k, v in waits.items()},
    )


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
    run_durations, run_waits, task_durations, task_waits = summaries(agg)
    run_reasons, task_reasons = _reasons(agg)
    empty = Summary()
    tasks: dict[str, list[TaskFigures]] = defaultdict(list)
    retries: Counter[str] = Counter()
    for workflow, task, successes, failures, cancelled, task_retries in sorted(agg.tasks):
        retries[workflow] += int(task_retries)
        tasks[workflow].append(
            TaskFigures(
                task=task,
                runs=int(successes + failures + cancelled),
                successes=int(successes),
                failures=int(failures),
                cancelled=int(cancelled),
                success_rate=rate(int(successes), int(successes + failures)),
                retries=int(task_retries),
                duration=task_durations.get((workflow, task), empty),
                queue_wait=task_waits.get((workflow, task), empty),
                top_failures=top_reasons(task_reasons.get((workflow, task), Counter())),
            )
        )
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
                duration=run_durations.get(workflow, empty),
                queue_wait=run_waits.get(workflow, empty),
                deadline_runs=int(deadlines),
                deadline_hits=int(hits),
                deadline_hit_rate=rate(int(hits), int(deadlines)),
                top_failures=top_reasons(run_reasons.get(workflow, Counter())),
                tasks=tasks.get(workflow, []),
            )
        )
    return PerformanceReport(since, until, now, workflows)
