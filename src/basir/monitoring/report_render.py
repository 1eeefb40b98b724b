"""The performance report written out: JSON (the API's shape), CSV, plain text and HTML.

Every heading goes through `basir.i18n`; HTML is one standalone page (no script, no external
asset) in the current locale, right-to-left for Arabic, with bar charts drawn in CSS.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from typing import Any

from jinja2 import Environment, Template
from markupsafe import Markup, escape

from basir.i18n import _, current_locale
from basir.monitoring.report import (
    PerformanceReport,
    Summary,
    TaskFigures,
    WorkflowFigures,
    shown_reason,
)

FORMATS = ("json", "csv", "html", "text")
RTL_LANGUAGES = frozenset({"ar"})
TEXT_COLUMNS = (
    "workflow_task",
    "runs",
    "successes",
    "failures",
    "success_rate",
    "retries",
    "p50",
    "p95",
    "p99",
    "wait",
)
CSV_COLUMNS = (
    "workflow",
    "task",
    "runs",
    "successes",
    "failures",
    "cancelled",
    "success_rate",
    "retries",
    "duration_p50_s",
    "duration_p95_s",
    "duration_p99_s",
    "queue_wait_p50_s",
    "queue_wait_p95_s",
    "queue_wait_p99_s",
    "deadline_runs",
    "deadline_hit_rate",
    "top_failure",
)


def iso(epoch: float) -> str:
    """An epoch time as ISO 8601 UTC, to the second."""
    return (
        datetime.fromtimestamp(epoch, UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    )


def _summary(summary: Summary) -> dict[str, Any]:
    return {"count": summary.count, "p50": summary.p50, "p95": summary.p95, "p99": summary.p99}


def _failures(pairs: list[tuple[str, int]]) -> list[dict[str, Any]]:
    return [{"reason": shown_reason(reason), "count": count} for reason, count in pairs]


def _task_json(task: TaskFigures) -> dict[str, Any]:
    return {
        "task": task.task,
        "runs": task.runs,
        "successes": task.successes,
        "failures": task.failures,
        "cancelled": task.cancelled,
        "success_rate": task.success_rate,
        "retries": task.retries,
        "duration_s": _summary(task.duration),
        "queue_wait_s": _summary(task.queue_wait),
        "top_failures": _failures(task.top_failures),
    }


def _workflow_json(flow: WorkflowFigures) -> dict[str, Any]:
    return {
        "workflow": flow.workflow,
        "runs": flow.runs,
        "in_progress": flow.in_progress,
        "successes": flow.successes,
        "failures": flow.failures,
        "cancelled": flow.cancelled,
        "success_rate": flow.success_rate,
        "retries": flow.retries,
        "duration_s": _summary(flow.duration),
        "queue_wait_s": _summary(flow.queue_wait),
        "deadline_runs": flow.deadline_runs,
        "deadline_hits": flow.deadline_hits,
        "deadline_hit_rate": flow.deadline_hit_rate,
        "top_failures": _failures(flow.top_failures),
        "tasks": [_task_json(task) for task in flow.tasks],
    }


def to_json(report: PerformanceReport) -> dict[str, Any]:
    """The report as a JSON-ready dict (times as ISO 8601 UTC)."""
    return {
        "since": iso(report.since),
        "until": iso(report.until),
        "generated_at": iso(report.generated_at),
        "workflows": [_workflow_json(flow) for flow in report.workflows],
    }


def _row(workflow: str, task: str, figures: WorkflowFigures | TaskFigures) -> dict[str, Any]:
    deadline_runs = figures.deadline_runs if isinstance(figures, WorkflowFigures) else ""
    hit_rate = figures.deadline_hit_rate if isinstance(figures, WorkflowFigures) else None
    return {
        "workflow": workflow,
        "task": task,
        "runs": figures.runs,
        "successes": figures.successes,
        "failures": figures.failures,
        "cancelled": figures.cancelled,
        "success_rate": _blank(figures.success_rate),
        "retries": figures.retries,
        "duration_p50_s": _blank(figures.duration.p50),
        "duration_p95_s": _blank(figures.duration.p95),
        "duration_p99_s": _blank(figures.duration.p99),
        "queue_wait_p50_s": _blank(figures.queue_wait.p50),
        "queue_wait_p95_s": _blank(figures.queue_wait.p95),
        "queue_wait_p99_s": _blank(figures.queue_wait.p99),
        "deadline_runs": deadline_runs,
        "deadline_hit_rate": _blank(hit_rate),
        "top_failure": shown_reason(figures.top_failures[0][0]) if figures.top_failures else "",
    }


def _blank(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def to_csv(report: PerformanceReport) -> str:
    """One row per workflow (task empty) followed by one row per task of it."""
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for flow in report.workflows:
        writer.writerow(_row(flow.workflow, "", flow))
        for task in flow.tasks:
            writer.writerow(_row(flow.workflow, task.task, task))
    return out.getvalue()


def seconds(value: float | None) -> str:
    """A duration for people: `-` when unknown, ms under a second, else seconds."""
    if value is None:
        return "-"
    if value < 1:
        return _("{n} ms", n=f"{value * 1000:.0f}")
    return _("{n} s", n=f"{value:.2f}")


def percent(value: float | None) -> str:
    """A rate for people: `-` when unknown."""
    return "-" if value is None else f"{value * 100:.1f}%"


def headings() -> dict[str, str]:
    """Column and section headings in the current language."""
    return {
        "title": _("Performance report"),
        "window": _("Runs created from {since} to {until}"),
        "generated": _("Generated at {time}"),
        "workflow": _("Workflow"),
        "task": _("Task"),
        "workflow_task": _("Workflow / task"),
        "runs": _("Runs"),
        "successes": _("Successes"),
        "failures": _("Failures"),
        "success_rate": _("Success rate"),
        "retries": _("Retries"),
        "p50": _("Duration p50"),
        "p95": _("Duration p95"),
        "p99": _("Duration p99"),
        "wait": _("Queue wait p95"),
        "deadline": _("Deadlines hit"),
        "reasons": _("Top failure reasons"),
        "none": _("No runs in this window."),
        "in_progress": _("still running"),
    }


def to_text(report: PerformanceReport) -> str:
    """An aligned plain-text table per workflow, for a terminal."""
    h = headings()
    lines = [
        h["title"],
        h["window"].format(since=iso(report.since), until=iso(report.until)),
        "",
    ]
    if not report.workflows:
        return "\n".join([*lines, h["none"], ""])
    columns = TEXT_COLUMNS
    for flow in report.workflows:
        rows = [[h[c] for c in columns], _text_row(flow.workflow, flow)]
        rows += [_text_row("  " + task.task, task) for task in flow.tasks]
        widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
        lines += [
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows
        ]
        if flow.deadline_runs:
            lines.append(f"{h['deadline']}: {percent(flow.deadline_hit_rate)}")
        for reason, count in flow.top_failures:
            lines.append(f"{h['reasons']}: {shown_reason(reason)} ({count})")
        lines.append("")
    return "\n".join(lines)


def _text_row(name: str, figures: WorkflowFigures | TaskFigures) -> list[str]:
    return [
        name,
        str(figures.runs),
        str(figures.successes),
        str(figures.failures),
        percent(figures.success_rate),
        str(figures.retries),
        seconds(figures.duration.p50),
        seconds(figures.duration.p95),
        seconds(figures.duration.p99),
        seconds(figures.queue_wait.p95),
    ]


@lru_cache(maxsize=1)
def _template() -> Template:
    source = resources.files("basir.monitoring").joinpath("templates/report.html.j2")
    environment = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    environment.filters.update(seconds=seconds, percent=percent)
    return environment.from_string(source.read_text(encoding="utf-8"))


def _ltr(text: str) -> Markup:
    """Text kept left to right inside a right-to-left page (times, ids)."""
    return Markup('<bdi dir="ltr">{}</bdi>').format(text)


def to_html(report: PerformanceReport) -> str:
    """A standalone HTML page in the current locale (dir=rtl for Arabic)."""
    lang = current_locale()
    h = headings()
    return _template().render(
        lang=lang,
        dir="rtl" if lang in RTL_LANGUAGES else "ltr",
        h=h,
        window=Markup(escape(h["window"])).format(
            since=_ltr(iso(report.since)), until=_ltr(iso(report.until))
        ),
        generated=Markup(escape(h["generated"])).format(time=_ltr(iso(report.generated_at))),
        report=report,
        longest=max((f.duration.p95 or 0.0 for f in report.workflows), default=0.0) or 1.0,
    )
