"""`MemoryStore`: the whole store interface in dictionaries, for fast unit tests.

It keeps the contract of the SQL stores to the letter (the same contract suite runs on it):
a batch is all-or-nothing, guards are checked in order against the state the batch has built
so far, values round-trip through the same JSON encoding, and records handed out are copies.
"""

from __future__ import annotations

import bisect
import copy
import dataclasses
import json
import time
from collections.abc import Hashable
from typing import Any

from basir.store import codec, guards, schedule_codec
from basir.store.audit_memory import MemoryAudit
from basir.store.audit_records import AuditEntry
from basir.store.base import MAX_RUNS_PER_READ, ConflictError, KvChanges, KvCheck, StoreError
from basir.store.memory_metrics import MemoryMetricHistory
from basir.store.memory_reports import MemoryReportReads
from basir.store.records import (
    AlertRecord,
    Batch,
    Change,
    EventRecord,
    JsonDict,
    Page,
    RunInsert,
    RunRecord,
    RunUpdate,
    ScheduleRecord,
    ScheduleUpdate,
    TaskInsert,
    TaskRecord,
    TaskUpdate,
    WorkflowVersion,
)


def _stored_run(run: RunRecord) -> RunRecord:
    row = codec.run_row(run)
    return codec.decode_run([row[n] for n in codec.RUN_COLUMNS])


def _stored_task(task: TaskRecord) -> TaskRecord:
    row = codec.task_row(task, 0)
    return codec.decode_task([row[n] for n in codec.TASK_COLUMNS])


def _decoded(kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    """`fields` as a SQL store would read them back (checked, JSON round-tripped)."""
    values = codec.update_values(kind, fields)
    json_cols = codec.RUN_JSON if kind == "run" else codec.TASK_JSON
    for name in json_cols & values.keys():
        values[name] = None if values[name] is None else json.loads(values[name])
    return values


class _Stage:
    """The state a batch builds, over the committed state; thrown away when a guard fails."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.runs: dict[str, RunRecord] = {}
        self.tasks: dict[str, dict[str, TaskRecord]] = {}

    def run(self, run_id: str) -> RunRecord | None:
        """The run as the batch sees it so far."""
        staged = self.runs.get(run_id)
        return staged if staged is not None else self.store._runs.get(run_id)

    def tasks_of(self, run_id: str) -> dict[str, TaskRecord]:
        """The batch's own copy of a run's tasks (made on first touch)."""
        if run_id not in self.tasks:
            self.tasks[run_id] = dict(self.store._tasks.get(run_id, {}))
        return self.tasks[run_id]

    def apply(self, change: Change) -> None:
        """Apply one change to the stage, or raise like a SQL store would."""
        if isinstance(change, RunInsert):
            self._insert_run(change)
        elif isinstance(change, TaskInsert):
            task = change.task
            if self.run(task.run_id) is None:
                raise guards.not_found("run", task.run_id)
            self._add_task(_stored_task(task))
        elif isinstance(change, RunUpdate):
            run = self.run(change.run_id)
            if run is None:
                raise guards.lost_race(change, None)
            if change.from_statuses is not None and run.status not in change.from_statuses:
                raise guards.lost_race(change, run.status)
            self.runs[run.id] = dataclasses.replace(run, **_decoded("run", change.fields))
        else:
            self._update_task(change)

    def _insert_run(self, change: RunInsert) -> None:
        run = change.run
        if self.run(run.id) is not None:
            raise guards.duplicate("run", run.id)
        self.runs[run.id] = _stored_run(run)
        self.tasks[run.id] = {}
        for task in change.tasks:
            self._add_task(dataclasses.replace(_stored_task(task), run_id=run.id))

    def _add_task(self, task: TaskRecord) -> None:
        tasks = self.tasks_of(task.run_id)
        if task.task_id in tasks:
            raise guards.duplicate("task", task.run_id, task.task_id)
        tasks[task.task_id] = task

    def _update_task(self, change: TaskUpdate) -> None:
        tasks = self.tasks_of(change.run_id)
        task = tasks.get(change.task_id)
        if task is None:
            raise guards.lost_race(change, None)
        if change.from_statuses is not None and task.status not in change.from_statuses:
            raise guards.lost_race(change, task.status)
        tasks[task.task_id] = dataclasses.replace(task, **_decoded("task", change.fields))


class MemoryStore(MemoryReportReads, MemoryMetricHistory, MemoryAudit):
    """The store interface in memory: nothing survives the process."""

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._workflows: dict[str, list[WorkflowVersion]] = {}
        self._runs: dict[str, RunRecord] = {}
        self._tasks: dict[str, dict[str, TaskRecord]] = {}
        self._events: list[EventRecord] = []
        self._event_ids: list[int] = []
        self._next_event_id = 1
        self._kv: dict[tuple[str, str], tuple[str, float]] = {}
        self.kv_changes = KvChanges()  # for in-memory caches of documents
        # (name, resolution_s, labels, time) -> value: the metric history.
        self._points: dict[tuple[str, int, str, float], float] = {}
        self._alerts: dict[str, AlertRecord] = {}
        self._schedules: dict[str, ScheduleRecord] = {}
        self._schedule_writes = 0  # `schedules_token`: every schedule write but a tick's
        self._audit: list[AuditEntry] = []
        self._closed = False

    # --- lifecycle -----------------------------------------------------------------------

    async def open(self) -> None:
        """Nothing to connect to; reopens a closed store."""
        self._closed = False

    async def close(self) -> None:
        """Refuse further writes (every write is already applied)."""
        self._closed = True

    async def take_engine_lock(self) -> bool:
        """Always held: a memory store belongs to the one process that made it."""
        return True

    async def ping(self) -> bool:
        """Always answers while open."""
        return not self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"store {self.url} is closed")

    # --- workflows -----------------------------------------------------------------------

    async def put_workflow(
        self, name: str, namespace: str, spec: JsonDict, spec_hash: str, created_by: str | None
    ) -> tuple[WorkflowVersion, bool]:
        """Store `spec` as the next version of `name` unless the latest has the same hash."""
        self._check_open()
        versions = self._workflows.setdefault(name, [])
        if versions and versions[-1].spec_hash == spec_hash:
            return copy.deepcopy(versions[-1]), False
        stored = json.loads(codec.dumps(spec))
        wv = WorkflowVersion(
            name, len(versions) + 1, namespace, stored, spec_hash, time.time(), created_by
        )
        versions.append(wv)
        return copy.deepcopy(wv), True

    async def get_workflow(self, name: str, version: int | None = None) -> WorkflowVersion | None:
        """A version of a workflow (the latest when `version` is None), or None."""
        versions = self._workflows.get(name, [])
        if version is None:
            return copy.deepcopy(versions[-1]) if versions else None
        if 1 <= version <= len(versions):
            return copy.deepcopy(versions[version - 1])
        return None

    async def list_workflows(self) -> list[WorkflowVersion]:
        """The latest version of every workflow, by name."""
        return [copy.deepcopy(self._workflows[n][-1]) for n in sorted(self._workflows)]

    async def list_workflow_versions(self, name: str) -> list[WorkflowVersion]:
        """Every version of one workflow, oldest first."""
        return copy.deepcopy(self._workflows.get(name, []))

    # --- runs and tasks ------------------------------------------------------------------

    async def write(self, batch: Batch) -> list[EventRecord]:
        """Apply every change and insert every event, all or nothing."""
        self._check_open()
        stage = _Stage(self)
        for change in batch.changes:
            stage.apply(change)
        data = [json.loads(codec.dumps(e.data)) for e in batch.events]
        self._runs.update(stage.runs)
        self._tasks.update(stage.tasks)
        written = []
        for event, payload in zip(batch.events, data, strict=True):
            stored = dataclasses.replace(event, data=payload, id=self._next_event_id)
            self._next_event_id += 1
            self._events.append(stored)
            self._event_ids.append(stored.id)
            written.append(copy.deepcopy(stored))
        return written

    async def get_run(self, run_id: str) -> RunRecord | None:
        """One run, or None."""
        return copy.deepcopy(self._runs.get(run_id))

    async def run_statuses(self, run_ids: list[str]) -> dict[str, str]:
        """The status of each of these runs that exists."""
        return {i: str(self._runs[i].status) for i in run_ids if i in self._runs}

    async def get_tasks(self, run_id: str) -> list[TaskRecord]:
        """Every task row of a run, in insertion order."""
        return copy.deepcopy(list(self._tasks.get(run_id, {}).values()))

    async def get_tasks_of(self, run_ids: list[str]) -> list[TaskRecord]:
        """Every task row of these runs, by run and insertion order."""
        if len(run_ids) > MAX_RUNS_PER_READ:
            raise ValueError(f"at most {MAX_RUNS_PER_READ} runs per read")
        found: list[TaskRecord] = []
        for run_id in sorted(set(run_ids)):
            found.extend(self._tasks.get(run_id, {}).values())
        return copy.deepcopy(found)

    async def list_runs(
        self,
        *,
        status: str | None = None,
        workflow: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page:
        """Runs, newest first (id breaks ties), filtered; `cursor` continues a page."""
        after = codec.decode_cursor(cursor) if cursor else None
        found = [
            r
            for r in sorted(self._runs.values(), key=lambda r: (r.created_at, r.id), reverse=True)
            if (status is None or r.status == status)
            and (workflow is None or r.workflow == workflow)
            and (after is None or (r.created_at, r.id) < after)
        ]
        items = copy.deepcopy(found[:limit])
        more = len(found) > limit and bool(items)
        return Page(
            items, codec.encode_cursor(items[-1].created_at, items[-1].id) if more else None
        )

    async def active_runs(self) -> list[RunRecord]:
        """Runs that are queued, running or paused, oldest first."""
        active = [r for r in self._runs.values() if r.status in codec.ACTIVE_RUN_STATUSES]
        return copy.deepcopy(sorted(active, key=lambda r: (r.created_at, r.id)))

    # --- events --------------------------------------------------------------------------

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
        found: list[EventRecord] = []
        for event in self._events[bisect.bisect_right(self._event_ids, after) :]:
            if len(found) >= limit:
                break
            if (
                (run_id is None or event.run_id == run_id)
                and (workflow is None or event.workflow == workflow)
                and (types is None or event.type in types)
            ):
                found.append(event)
        return copy.deepcopy(found)

    async def list_event_lines(
        self, *, after: int = 0, limit: int = 100, workflow: str | None = None
    ) -> list[tuple[int, float, str]]:
        """Like `list_events`, as `(id, time, the CloudEvent as one JSON line)`: for exports."""
        events = await self.list_events(after=after, limit=limit, workflow=workflow)
        return [(e.id, e.time, codec.dumps(e.to_cloudevent())) for e in events]

    async def list_event_rows(
        self, *, after: int = 0, limit: int = 100, workflow: str | None = None
    ) -> list[tuple[int, float, str, str, str]]:
        """Like `list_events`, as `(id, time, type, subject, data as JSON text)`: for exports."""
        events = await self.list_events(after=after, limit=limit, workflow=workflow)
        return [(e.id, e.time, e.type, e.subject, codec.dumps(e.data)) for e in events]

    async def last_event_id(self) -> int:
        """The id of the newest event, 0 when there is none."""
        return self._event_ids[-1] if self._event_ids else 0

    # --- key-value -----------------------------------------------------------------------

    async def kv_put(
        self, kind: str, key: str, value: JsonDict, *, only_if_absent: bool = False
    ) -> bool:
        """Store a document; with `only_if_absent`, keep an existing one and return False."""
        try:
            self._check_open()
            if only_if_absent and (kind, key) in self._kv:
                return False
            self._kv[(kind, key)] = (codec.dumps(value), time.time())
            return True
        finally:
            self.kv_changes.bump(kind)

    async def kv_put_checked(
        self,
        kind: str,
        key: str,
        value: JsonDict,
        check: KvCheck,
        *,
        limit: int = 1000,
    ) -> None:
        """Store a document if `check` accepts those of `kind`: no await in between."""
        self._check_open()
        check(await self.kv_list(kind, limit))  # kv_list never yields to the loop
        self._kv[(kind, key)] = (codec.dumps(value), time.time())
        self.kv_changes.bump(kind)

    async def kv_get(self, kind: str, key: str) -> JsonDict | None:
        """A document, or None."""
        found = self._kv.get((kind, key))
        return None if found is None else dict(json.loads(found[0]))

    async def kv_list(self, kind: str, limit: int = 1000) -> list[tuple[str, JsonDict]]:
        """Documents of one kind, by key."""
        keys = sorted(k for (c, k) in self._kv if c == kind)[:limit]
        return [(k, json.loads(self._kv[(kind, k)][0])) for k in keys]

    # --- alerts --------------------------------------------------------------------------

    async def alert_put(self, alert: AlertRecord) -> None:
        """Insert or replace one alert."""
        self._check_open()
        self._alerts[alert.id] = copy.deepcopy(alert)

    async def alert_get(self, alert_id: str) -> AlertRecord | None:
        """One alert, or None."""
        return copy.deepcopy(self._alerts.get(alert_id))

    async def alert_list(
        self, *, state: str | None = None, workflow: str | None = None, limit: int = 100
    ) -> list[AlertRecord]:
        """Alerts, most recently fired first, filtered."""
        found = [
            a
            for a in self._alerts.values()
            if (state is None or a.state == state) and (workflow is None or a.workflow == workflow)
        ]
        found.sort(key=lambda a: (a.fired_at, a.id), reverse=True)
        return copy.deepcopy(found[:limit])

    async def kv_delete(self, kind: str, key: str) -> bool:
        """Remove a document; False when there was none."""
        try:
            self._check_open()
            return self._kv.pop((kind, key), None) is not None
        finally:
            self.kv_changes.bump(kind)

    # --- schedules -----------------------------------------------------------------------

    async def sync_schedules(self, workflow: str, entries: list[ScheduleRecord]) -> None:
        """Make `entries` the workflow's schedules (see `ScheduleStore.sync_schedules`)."""
        self._check_open()
        self._schedule_writes += 1
        wanted = {entry.id for entry in entries}
        for found in [r for r in self._schedules.values() if r.workflow == workflow]:
            if found.id not in wanted and found.position >= 0:
                del self._schedules[found.id]
        for entry in entries:
            stored = schedule_codec.decode(list(schedule_codec.row(entry).values()))
            old = self._schedules.get(entry.id)
            if old is None:
                self._schedules[entry.id] = stored
            elif old.spec_hash != entry.spec_hash:
                for name in schedule_codec.DEFINITION_COLUMNS:
                    setattr(old, name, getattr(stored, name))
                old.next_fire_at, old.due_at = stored.next_fire_at, stored.due_at
                old.updated_at = stored.updated_at
                old.revision += 1

    async def add_schedule(self, record: ScheduleRecord) -> None:
        """Insert one schedule; `ConflictError` when the id exists."""
        self._check_open()
        if record.id in self._schedules:
            raise ConflictError(f"schedule {record.id} already exists")
        self._schedule_writes += 1
        self._schedules[record.id] = schedule_codec.decode(
            list(schedule_codec.row(record).values())
        )

    async def list_schedules(self, workflow: str | None = None) -> list[ScheduleRecord]:
        """Every schedule (of one workflow), by workflow and position."""
        found = [r for r in self._schedules.values() if workflow in (None, r.workflow)]
        found.sort(key=lambda r: (r.workflow, r.position))
        return copy.deepcopy(found)

    async def get_schedule(self, schedule_id: str) -> ScheduleRecord | None:
        """One schedule, or None."""
        return copy.deepcopy(self._schedules.get(schedule_id))

    async def due_schedules(self, now: float, limit: int = 1000) -> list[ScheduleRecord]:
        """Unpaused schedules due at `now` or holding queued fires, soonest first."""
        found = [
            r
            for r in self._schedules.values()
            if not r.paused and ((r.due_at is not None and r.due_at <= now) or r.queued)
        ]
        found.sort(key=lambda r: (r.due_at is None, r.due_at or 0.0))
        return copy.deepcopy(found[:limit])

    async def schedules_token(self) -> Hashable | None:
        """Moves with every schedule write but `update_schedules` (one process: no other)."""
        return self._schedule_writes

    async def next_due_at(self) -> float | None:
        """The soonest `due_at` of an unpaused schedule."""
        times = [r.due_at for r in self._schedules.values() if not r.paused and r.due_at]
        return min(times, default=None)

    async def update_schedule(
        self, change: ScheduleUpdate, batch: Batch | None = None
    ) -> list[EventRecord]:
        """Write a schedule and `batch` together, while it is still at `change.revision`."""
        self._schedule_writes += 1
        return await self._update_schedule(change, batch)

    async def _update_schedule(
        self, change: ScheduleUpdate, batch: Batch | None = None
    ) -> list[EventRecord]:
        self._check_open()
        record = self._schedules.get(change.id)
        if record is None or record.revision != change.revision:
            raise schedule_codec.lost(change, None if record is None else record.revision)
        schedule_codec.update_values(change)  # checked before anything is written
        events = await self.write(batch) if batch else []
        schedule_codec.apply_update_in_memory(record, change.fields)
        return events

    async def update_schedules(
        self, items: list[tuple[ScheduleUpdate, Batch | None]]
    ) -> list[BaseException | None]:
        """`update_schedule` for each item; a lost or refused item changes nothing."""
        outcome: list[BaseException | None] = []
        for change, batch in items:
            try:
                await self._update_schedule(change, batch)
            except Exception as error:
                outcome.append(error)
            else:
                outcome.append(None)
        return outcome
