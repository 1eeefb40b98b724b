"""The performance report's reads, every store: the SQL aggregation equals the Python fold.

`performance_report` lets a SQL store compute the figures (`Store.report_aggregate`) and folds
`report_runs` / `report_tasks` pages otherwise; both must give exactly the report that the
reference fold of whole records (`ReportBuilder` over `get_run` / `get_tasks`) gives.
"""

from __future__ import annotations

import dataclasses

import pytest

from basir.monitoring import report_source
from basir.monitoring.report import PerformanceReport, ReportBuilder
from basir.store.base import Store
from basir.store.records import Batch, RunInsert, RunRecord, TaskRecord

T0 = 1_000_000.0
STATUSES = ("succeeded", "failed", "succeeded", "cancelled", "running", "succeeded", "failed")


def workload() -> list[RunInsert]:
    """Runs of three workflows: every outcome, retries, deadlines, foreach children, ties."""
    inserts = []
    for i in range(40):
        status = STATUSES[i % len(STATUSES)]
        created = T0 + (i // 3)  # three runs share each creation time: ties across pages
        ended = status != "running"
        run = RunRecord(
            id=f"run{i:03d}",
            workflow=f"wf{i % 3}",
            version=1,
            status=status,
            created_at=created,
            started_at=created + 0.5,
            finished_at=created + 1 + i * 0.25 if ended else None,
            updated_at=created + 2,
            deadline_at=created + 5 if i % 4 == 0 else None,
            error="run gave up\nsecond line" if status == "failed" and i % 2 else None,
        )
        tasks = [
            TaskRecord(
                run.id,
                "build",
                "succeeded",
                attempts=1 + i % 3,
                queued_at=created,
                started_at=created + 0.1 * (i % 5),
                finished_at=created + 0.75 + i * 0.125,
            ),
            TaskRecord(
                run.id,
                "test",
                status if ended else "running",
                attempts=1,
                queued_at=created + 0.5,
                started_at=created + 0.5 + i * 0.01 if i % 6 else None,
                finished_at=created + 3 if ended and i % 6 else None,
                error=f"exit {i % 2}: flaky\ntrace" if status == "failed" and i % 3 else None,
            ),
            TaskRecord(
                run.id,
                "test[0]",
                "failed",
                attempts=4,
                queued_at=created,
                started_at=created,
                finished_at=created + 50,
                error="a foreach instance: counted through its parent",
                parent_id="test",
            ),
        ]
        inserts.append(RunInsert(run, tasks))
    return inserts


async def reference(store: Store, since: float, until: float) -> PerformanceReport:
    """The report folded from whole records, one run at a time."""
    builder = ReportBuilder(since, until)
    for i in range(40):
        run = await store.get_run(f"run{i:03d}")
        assert run is not None
        builder.add(run, await store.get_tasks(run.id))
    return builder.build(0.0)


def same(report: PerformanceReport) -> PerformanceReport:
    return dataclasses.replace(report, generated_at=0.0)


@pytest.mark.parametrize("window", [(0.0, T0 + 100), (T0 + 2, T0 + 9)])
async def test_the_report_equals_the_fold_of_whole_records(
    store: Store, window: tuple[float, float], monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.write(Batch(workload(), []))
    since, until = window
    expected = await reference(store, since, until)
    assert expected.workflows and any(w.top_failures for w in expected.workflows)
    assert same(await report_source.performance_report(store, since, until)) == expected
    # The page-by-page fold (what a store without SQL aggregation gets), pages cut in ties.
    monkeypatch.setattr(report_source, "PAGE_RUNS", 4)

    async def no_aggregate(since: float, until: float) -> None:
        return None

    monkeypatch.setattr(store, "report_aggregate", no_aggregate)
    assert same(await report_source.performance_report(store, since, until)) == expected


async def test_report_runs_pages_in_creation_order_and_excludes_the_window_edges(
    store: Store,
) -> None:
    await store.write(Batch(workload(), []))
    first = await store.report_runs(T0 + 1, T0 + 3, None, 4)
    assert [r.id for r in first] == ["run003", "run004", "run005", "run006"]
    last = (first[-1].created_at, first[-1].id)
    rest = await store.report_runs(T0 + 1, T0 + 3, last, 4)
    assert [r.id for r in rest] == ["run007", "run008"]
    tasks = await store.report_tasks((first[0].created_at, first[0].id), last)
    assert sorted({t.run_id for t in tasks}) == ["run004", "run005", "run006"]
    assert {t.task_id for t in tasks} == {"build", "test"}  # no foreach instance
    assert all(t.error is None for t in tasks if t.status != "failed")
