"""The reads every SQL store shares: one named query, its parameters, one row decoder.

A store provides `_select(query, params, decode)`, where `query` names a builder of
`store.queries` and its arguments (`("list_runs", True, False, False)`); everything else here
is the same SQL on SQLite and PostgreSQL.  Naming the statement instead of building it lets
the SQLite store take its text from the shipped catalogue without importing SQLAlchemy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from basir.store import codec, monitoring_codec, schedule_codec
from basir.store.base import MAX_RUNS_PER_READ
from basir.store.records import (
    AlertRecord,
    EventRecord,
    JsonDict,
    MetricPoint,
    Page,
    ReportAggregate,
    RunFacts,
    RunRecord,
    ScheduleRecord,
    TaskFacts,
    TaskRecord,
    WorkflowVersion,
)
from basir.store.sqlite_sql import status_params

T = TypeVar("T")

# A statement by name: a builder of `store.queries` and the arguments to call it with.  A
# built SQLAlchemy statement is accepted too (compiled on use: the SQLite store then imports
# SQLAlchemy).
Query = tuple[Any, ...] | Any


class SqlReads:
    """Read verbs of the store interface, written once over `_select`."""

    async def _select(
        self, query: Query, params: dict[str, Any], decode: Callable[[Sequence[Any]], T]
    ) -> list[T]:
        raise NotImplementedError

    async def _rows(self, query: Query, params: dict[str, Any], *, bulk: bool = False) -> list[Any]:
        """The rows of a query as the driver gives them (tuples), fetched in one call.

        `bulk`: a read of a whole history (exports), which a store may give a connection of
        its own with a small page cache."""
        return await self._select(query, params, tuple)

    async def get_workflow(self, name: str, version: int | None = None) -> WorkflowVersion | None:
        """A version of a workflow (the latest when `version` is None), or None."""
        params: dict[str, Any]
        if version is None:
            query, params = ("latest_workflow",), {"name": name}
        else:
            query, params = ("workflow_version",), {"name": name, "version": version}
        found = await self._select(query, params, codec.decode_workflow)
        return found[0] if found else None

    async def list_workflows(self) -> list[WorkflowVersion]:
        """The latest version of every workflow, by name."""
        return await self._select(("latest_workflows",), {}, codec.decode_workflow)

    async def list_workflow_versions(self, name: str) -> list[WorkflowVersion]:
        """Every version of one workflow, oldest first."""
        return await self._select(("workflow_versions",), {"name": name}, codec.decode_workflow)

    async def get_run(self, run_id: str) -> RunRecord | None:
        """One run, or None."""
        found = await self._select(("select_run",), {"k_id": run_id}, codec.decode_run)
        return found[0] if found else None

    async def run_statuses(self, run_ids: list[str]) -> dict[str, str]:
        """The status of each of these runs that exists (one read per 256 ids)."""
        query = ("schedule_sql.select_run_statuses",)
        chunks = await asyncio.gather(
            *(
                self._select(query, params, lambda r: (str(r[0]), str(r[1])))
                for params in schedule_codec.run_status_params(list(dict.fromkeys(run_ids)))
            )
        )  # on several reader threads (connections) at once
        return {run_id: status for rows in chunks for run_id, status in rows}

    async def due_schedules(self, now: float, limit: int = 1000) -> list[ScheduleRecord]:
        """Unpaused schedules due at `now` or holding queued fires, soonest first: two
        indexed reads (`due_at` range, partial index on queued), never a scan."""
        decode = schedule_codec.decode
        params = {"now": now, "limit": limit}
        due, queued = await asyncio.gather(
            self._select(("schedule_sql.select_due",), params, decode),
            self._select(("schedule_sql.select_queued",), {"limit": limit}, decode),
        )
        return schedule_codec.merge_due(due, queued, limit)

    async def get_tasks(self, run_id: str) -> list[TaskRecord]:
        """Every task row of a run, in insertion order."""
        return await self._select(("select_tasks",), {"k_run_id": run_id}, codec.decode_task)

    async def get_tasks_of(self, run_ids: list[str]) -> list[TaskRecord]:
        """Every task row of these runs, by run and insertion order (one query)."""
        if not run_ids:
            return []
        if len(run_ids) > MAX_RUNS_PER_READ:
            raise ValueError(f"at most {MAX_RUNS_PER_READ} runs per read")
        params = {f"r{i}": run_id for i, run_id in enumerate(run_ids)}
        return await self._select(("select_tasks_of", len(run_ids)), params, codec.decode_task)

    async def list_runs(
        self,
        *,
        status: str | None = None,
        workflow: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page:
        """Runs, newest first (id breaks ties), filtered; `cursor` continues a page."""
        params: dict[str, Any] = {"limit": limit + 1}
        if status is not None:
            params["status"] = status
        if workflow is not None:
            params["workflow"] = workflow
        if cursor:
            params["c_at"], params["c_id"] = codec.decode_cursor(cursor)
        query = ("list_runs", status is not None, workflow is not None, bool(cursor))
        return codec.page_of(await self._select(query, params, codec.decode_run), limit)

    async def active_runs(self) -> list[RunRecord]:
        """Runs that are queued, running or paused, oldest first."""
        params = status_params(codec.ACTIVE_RUN_STATUSES)
        return await self._select(("active_runs",), params, codec.decode_run)

    async def list_events(
        self,
        *,
        after: int = 0,
        limit: int = 100,
        run_id: str | None = None,
        workflow: str | None = None,
        types: tuple[str, ...] | None = None,
    ) -> list[EventRecord]:
        """Events with id > `after`, oldest first, filtered."""
        params: dict[str, Any] = {"after": after, "limit": limit, **status_params(types)}
        if run_id is not None:
            params["run_id"] = run_id
        if workflow is not None:
            params["workflow"] = workflow
        n_types = None if types is None else len(types)
        query = ("list_events", run_id is not None, workflow is not None, n_types)
        return await self._select(query, params, codec.decode_event)

    async def list_event_lines(
        self, *, after: int = 0, limit: int = 100, workflow: str | None = None
    ) -> list[tuple[int, float, str]]:
        """Like `list_events`, as `(id, time, the CloudEvent as one JSON line)`: for exports."""
        params: dict[str, Any] = {"after": after, "limit": limit}
        if workflow is not None:
            params["workflow"] = workflow
        query = ("list_events", False, workflow is not None, None)
        return [codec.event_line(row) for row in await self._rows(query, params, bulk=True)]

    async def list_event_rows(
        self, *, after: int = 0, limit: int = 100, workflow: str | None = None
    ) -> list[tuple[int, float, str, str, str]]:
        """Like `list_events`, as `(id, time, type, subject, data as JSON text)`: for exports."""
        params: dict[str, Any] = {"after": after, "limit": limit}
        if workflow is not None:
            params["workflow"] = workflow
        return await self._rows(("export_events", workflow is not None), params, bulk=True)

    async def last_event_id(self) -> int:
        """The id of the newest event, 0 when there is none."""
        found = await self._select(("last_event_id",), {}, lambda row: int(row[0]))
        return found[0]

    async def kv_get(self, kind: str, key: str) -> JsonDict | None:
        """A document, or None."""
        found = await self._select(
            ("kv_get",), {"kind": kind, "key": key}, lambda row: codec.loads(row[0])
        )
        return dict(found[0]) if found else None

    async def kv_list(self, kind: str, limit: int = 1000) -> list[tuple[str, JsonDict]]:
        """Documents of one kind, by key."""
        return await self._select(
            ("kv_list",),
            {"kind": kind, "limit": limit},
            lambda row: (row[0], codec.loads(row[1])),
        )

    async def report_runs(
        self, since: float, until: float, after: tuple[float, str] | None, limit: int
    ) -> list[RunFacts]:
        """Runs created in `[since, until)`, in `(created_at, id)` order after `after`."""
        after_at, after_id = after if after is not None else (since, "")
        params = {
            "since": since,
            "until": until,
            "after_at": after_at,
            "after_id": after_id,
            "limit": limit,
        }
        return await self._select(("report_queries.report_runs",), params, RunFacts._make)

    async def report_tasks(
        self, after: tuple[float, str] | None, last: tuple[float, str]
    ) -> list[TaskFacts]:
        """Top-level tasks of the runs with `after < (created_at, id) <= last`."""
        after_at, after_id = after if after is not None else (float("-inf"), "")
        params = {
            "after_at": after_at,
            "after_id": after_id,
            "last_at": last[0],
            "last_id": last[1],
        }
        return await self._select(("report_queries.report_tasks",), params, TaskFacts._make)

    async def report_aggregate(self, since: float, until: float) -> ReportAggregate | None:
        """The report's figures of runs created in `[since, until)`, computed by the database.

        Five reads, two at a time on the reader threads; only the durations and waits come
        row by row (the percentiles need every value).
        """
        params = {"since": since, "until": until}

        def read(name: str, *args: Any) -> Any:
            return self._select((f"report_queries.{name}", *args), params, tuple)

        found = await asyncio.gather(
            read("count_runs"),
            read("run_values"),
            read("task_values"),
            read("failed_tasks"),
            read("failed_runs"),
        )
        return ReportAggregate(*found)

    async def metrics_query(
        self, name: str, resolution_s: int, start: float, end: float
    ) -> list[MetricPoint]:
        """Points of `name` at `resolution_s` with `start <= time <= end`, by series and time."""
        rows = await self.metrics_rows(name, resolution_s, start, end)
        rows.sort(key=monitoring_codec.LABELS_OF)  # stable: by series, each oldest first
        return [MetricPoint(name, labels, resolution_s, t, v) for labels, t, v in rows]

    async def metrics_rows(
        self, name: str, resolution_s: int, start: float, end: float
    ) -> list[tuple[str, float, float]]:
        """Points as `(labels, time, value)`, oldest first (labels break ties): one covering
        index range read, no sort, no record per row (bench/monitoring_bench.py)."""
        params = {"name": name, "resolution_s": resolution_s, "start": start, "end": end}
        return await self._rows(("metric_queries.select_points",), params)

    async def metrics_names(self) -> list[str]:
        """Every metric name with at least one point, sorted."""
        return await self._select(("metric_queries.select_names",), {}, lambda row: str(row[0]))

    async def alert_get(self, alert_id: str) -> AlertRecord | None:
        """One alert, or None."""
        query = ("alert_queries.select_alert",)
        found = await self._select(query, {"id": alert_id}, monitoring_codec.decode_alert)
        return found[0] if found else None

    async def alert_list(
        self, *, state: str | None = None, workflow: str | None = None, limit: int = 100
    ) -> list[AlertRecord]:
        """Alerts, most recently fired first, filtered."""
        params: dict[str, Any] = {"limit": limit}
        if state is not None:
            params["state"] = state
        if workflow is not None:
            params["workflow"] = workflow
        query = ("alert_queries.list_alerts", state is not None, workflow is not None)
        return await self._select(query, params, monitoring_codec.decode_alert)
