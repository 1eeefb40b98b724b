"""The performance report's reads of the in-memory store (`MemoryStore` inherits them).

No SQL to aggregate with: `report_aggregate` answers None and the report folds the runs that
`report_runs` and `report_tasks` return, a page at a time, like a SQL store's narrow reads.
"""

from __future__ import annotations

from basir.store.records import ReportAggregate, RunFacts, RunRecord, TaskFacts, TaskRecord


class MemoryReportReads:
    """`report_aggregate`, `report_runs` and `report_tasks` over the store's dictionaries."""

    _runs: dict[str, RunRecord]
    _tasks: dict[str, dict[str, TaskRecord]]

    async def report_aggregate(self, since: float, until: float) -> ReportAggregate | None:
        """None: the report folds this store's runs itself (`report_runs`, `report_tasks`)."""
        del since, until
        return None

    async def report_runs(
        self, since: float, until: float, after: tuple[float, str] | None, limit: int
    ) -> list[RunFacts]:
        """Runs created in `[since, until)`, in `(created_at, id)` order after `after`."""
        bound = after if after is not None else (since, "")
        found = sorted(
            (r for r in self._runs.values() if since <= r.created_at < until),
            key=lambda r: (r.created_at, r.id),
        )
        return [
            RunFacts(
                r.id,
                r.workflow,
                r.status,
                r.created_at,
                r.started_at,
                r.finished_at,
                r.deadline_at,
                r.error,
            )
            for r in found
            if (r.created_at, r.id) > bound
        ][:limit]

    async def report_tasks(
        self, after: tuple[float, str] | None, last: tuple[float, str]
    ) -> list[TaskFacts]:
        """Top-level tasks of the runs with `after < (created_at, id) <= last`."""
        found: list[TaskFacts] = []
        for run in self._runs.values():
            key = (run.created_at, run.id)
            if (after is not None and key <= after) or key > last:
                continue
            for t in self._tasks.get(run.id, {}).values():
                if t.parent_id is None:
                    error = t.error if t.status == "failed" else None
                    found.append(
                        TaskFacts(
                            t.run_id,
                            t.task_id,
                            t.status,
                            t.attempts,
                            t.queued_at,
                            t.started_at,
                            t.finished_at,
                            error,
                        )
                    )
        return found
