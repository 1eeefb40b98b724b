"""The performance report's figures from runs with known durations, waits and failures."""

from __future__ import annotations

import csv
import io

import pytest

from basir.i18n import use_locale
from basir.monitoring.report import ReportBuilder, percentile, reason_of
from basir.monitoring.report_render import to_csv, to_html, to_json, to_text
from basir.store.records import RunRecord, TaskRecord

T0 = 1_800_000_000.0


def run(
    run_id: str, workflow: str, status: str, created: float, took: float, **kw: object
) -> RunRecord:
    """A run created at T0+`created` that ran for `took` seconds."""
    start = T0 + created + 1
    return RunRecord(
        id=run_id,
        workflow=workflow,
        version=1,
        status=status,
        created_at=T0 + created,
        started_at=start,
        finished_at=None if status == "running" else start + took,
        **kw,  # type: ignore[arg-type]
    )


def task(
    run_id: str, task_id: str, status: str, queued: float, wait: float, took: float, **kw: object
) -> TaskRecord:
    """A task queued at T0+`queued`, started `wait` later, ran `took` seconds."""
    return TaskRecord(
        run_id=run_id,
        task_id=task_id,
        status=status,
        queued_at=T0 + queued,
        started_at=T0 + queued + wait,
        finished_at=T0 + queued + wait + took,
        **kw,  # type: ignore[arg-type]
    )


def build_sample() -> ReportBuilder:
    """Ten runs of `ci` (build 1..10 s; test fails in runs 8, 9, 10) and one of `docs`."""
    builder = ReportBuilder(T0, T0 + 1000)
    for i in range(1, 11):
        failed = i >= 8
        record = run(
            f"r{i}",
            "ci",
            "failed" if failed else "succeeded",
            i,
            float(i) * 2,
            deadline_at=T0 + i + 1 + 15,
        )
        rows = [
            task(record.id, "build", "succeeded", i, 0.5, float(i), attempts=1),
            task(
                record.id,
                "test",
                "failed" if failed else "succeeded",
                i + 5,
                0.1 * i,
                1.0,
                attempts=2 if i in (3, 9) else 1,
                error="AssertionError: widget test\nat line 3" if failed else None,
            ),
            task(record.id, "fan[0]", "succeeded", i, 0, 1, parent_id="fan"),
        ]
        builder.add(record, rows)
    builder.add(run("d1", "docs", "failed", 3, 1, error="engine: out of disk"), [])
    builder.add(run("d2", "docs", "running", 4, 0), [])
    builder.add(run("old", "docs", "succeeded", -5, 1), [])  # before `since`
    builder.add(run("late", "docs", "succeeded", 1000, 1), [])  # at `until`: excluded
    return builder


def test_percentiles_interpolate() -> None:
    values = [float(v) for v in range(1, 11)]
    assert percentile(values, 50) == 5.5
    assert percentile(values, 95) == pytest.approx(9.55)
    assert percentile(values, 99) == pytest.approx(9.91)
    assert percentile([], 50) is None
    assert percentile([4.0], 99) == 4.0


def test_workflow_and_task_figures() -> None:
    report = build_sample().build(T0 + 2000)
    ci, docs = report.workflows
    assert (ci.workflow, ci.runs, ci.successes, ci.failures, ci.in_progress) == ("ci", 10, 7, 3, 0)
    assert ci.success_rate == 0.7
    assert ci.retries == 2
    assert ci.duration.count == 10 and ci.duration.p50 == 11.0  # 2..20 s
    assert ci.top_failures == [("AssertionError: widget test", 3)]
    # Deadlines 15 s after the start: runs taking 2..14 s hit it (7 of 10).
    assert (ci.deadline_runs, ci.deadline_hits, ci.deadline_hit_rate) == (10, 7, 0.7)
    build, test = ci.tasks  # foreach instances are counted through their parent only
    assert build.task == "build" and build.duration.p50 == 5.5 and build.success_rate == 1.0
    assert build.queue_wait.p50 == 0.5
    assert (test.successes, test.failures, test.retries) == (7, 3, 2)
    assert test.queue_wait.p99 == pytest.approx(0.991)
    assert test.top_failures == [("AssertionError: widget test", 3)]
    assert (docs.runs, docs.failures, docs.in_progress, docs.success_rate) == (2, 1, 1, 0.0)
    assert docs.top_failures == [("engine: out of disk", 1)]
    assert docs.deadline_hit_rate is None and docs.tasks == []


def test_reason_is_the_first_line_shortened() -> None:
    assert reason_of("boom\ntrace") == "boom"
    assert reason_of("") is None and reason_of(None) is None
    assert len(reason_of("x" * 1000) or "") == 160


def test_json_csv_and_text() -> None:
    report = build_sample().build(T0 + 2000)
    data = to_json(report)
    assert data["since"] == "2027-01-15T08:00:00Z"
    assert [w["workflow"] for w in data["workflows"]] == ["ci", "docs"]
    assert data["workflows"][0]["tasks"][1]["top_failures"] == [
        {"reason": "AssertionError: widget test", "count": 3}
    ]
    rows = list(csv.DictReader(io.StringIO(to_csv(report))))
    assert [(r["workflow"], r["task"]) for r in rows] == [
        ("ci", ""),
        ("ci", "build"),
        ("ci", "test"),
        ("docs", ""),
    ]
    assert rows[0]["success_rate"] == "0.7" and rows[0]["duration_p50_s"] == "11"
    assert rows[0]["deadline_hit_rate"] == "0.7" and rows[3]["deadline_hit_rate"] == ""
    text = to_text(report)
    assert "Performance report" in text and "70.0%" in text and "widget test (3)" in text


def test_html_is_standalone_in_english_and_arabic() -> None:
    report = build_sample().build(T0 + 2000)
    english = to_html(report)
    assert english.startswith("<!doctype html>") and 'lang="en" dir="ltr"' in english
    assert "<script" not in english and "http" not in english.split("</head>")[0]
    assert "Performance report" in english
    assert "<bdi>AssertionError: widget test</bdi> (3)" in english
    with use_locale("ar"):
        arabic = to_html(report)
    assert 'lang="ar" dir="rtl"' in arabic
    assert '<bdi dir="ltr">2027-01-15T08:00:00Z</bdi>' in arabic  # times stay left to right
    assert "تقرير الأداء" in arabic
    empty = ReportBuilder(T0, T0 + 1).build(T0)
    assert "No runs in this window." in to_html(empty)
