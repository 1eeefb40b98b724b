"""The store interface: the single source of truth under every other package.

A narrow Protocol, one group of verbs per concern.  Every implementation (in-memory, SQLite,
PostgreSQL) passes the same contract suite in `tests/integration/store/`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, Protocol

from basir.store.audit_records import AuditEntry
from basir.store.records import (
    AlertRecord,
    Batch,
    EventRecord,
    JsonDict,
    MetricPoint,
    Page,
    ReportAggregate,
    RunFacts,
    RunRecord,
    ScheduleRecord,
    ScheduleUpdate,
    TaskFacts,
    TaskRecord,
    WorkflowVersion,
)

# `kv_put_checked`'s check: given the stored documents of a kind, raise to refuse the write.
KvCheck = Callable[[list[tuple[str, JsonDict]]], None]
# Most run ids one `get_tasks_of` call takes (bound parameters stay well under every limit).
MAX_RUNS_PER_READ = 500


class StoreError(RuntimeError):
    """Base of the store's own errors."""


class ConflictError(StoreError):
    """A guarded write found its row in another state: a race was lost; nothing was written."""


class NotFoundError(StoreError):
    """A guarded write or insert refers to a row that does not exist."""


class KvChanges:
    """How many key-value writes of each kind this process has made (`kv_put`, `kv_delete`).

    In-memory caches of documents (dashboard sessions, tokens) compare the count of the kinds
    they depend on before and after: a write anywhere in the process invalidates them at
    once.  Writes by other processes are not counted; those caches bound them with a TTL.
    """

    __slots__ = ("_counts",)

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def bump(self, kind: str) -> None:
        """Count one write of `kind` (after it is made, successful or not)."""
        self._counts[kind] = self._counts.get(kind, 0) + 1

    def version(self, kinds: tuple[str, ...]) -> int:
        """The number of writes of these kinds so far (changes whenever one is written)."""
        return sum(self._counts.get(kind, 0) for kind in kinds)


class WorkflowStore(Protocol):
    """Immutable, numbered versions of named workflow specs."""

    async def put_workflow(
        self, name: str, namespace: str, spec: JsonDict, spec_hash: str, created_by: str | None
    ) -> tuple[WorkflowVersion, bool]:
        """Store `spec` as the next version of `name` unless the latest has the same hash.

        Returns the version and whether it was newly created.
        """
        ...

    async def get_workflow(self, name: str, version: int | None = None) -> WorkflowVersion | None:
        """A version of a workflow (the latest when `version` is None), or None."""
        ...

    async def list_workflows(self) -> list[WorkflowVersion]:
        """The latest version of every workflow, by name."""
        ...

    async def list_workflow_versions(self, name: str) -> list[WorkflowVersion]:
        """Every version of one workflow, oldest first."""
        ...


class RunStore(Protocol):
    """Runs, their tasks, and the atomic batches that change them."""

    async def write(self, batch: Batch) -> list[EventRecord]:
        """Apply every change and insert every event in one transaction.

        Raises `ConflictError` (nothing written) when a guarded update finds its row in a
        state outside `from_statuses`.  Returns the events with their assigned ids.
        """
        ...

    async def get_run(self, run_id: str) -> RunRecord | None:
        """One run, or None."""
        ...

    async def get_tasks(self, run_id: str) -> list[TaskRecord]:
        """Every task row of a run, in insertion order."""
        ...

    async def list_runs(
        self,
        *,
        status: str | None = None,
        workflow: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page:
        """Runs, newest first, filtered; `cursor` continues a previous page."""
        ...

    async def active_runs(self) -> list[RunRecord]:
        """Runs that are queued, running or paused: what a restart must resume."""
        ...

    async def get_tasks_of(self, run_ids: list[str]) -> list[TaskRecord]:
        """Every task row of these runs (at most `MAX_RUNS_PER_READ`), by run and insertion order.

        One read for a page of runs, where `get_tasks` would take one per run (reports).
        """
        ...

    async def report_aggregate(self, since: float, until: float) -> ReportAggregate | None:
        """The report's figures of runs created in `[since, until)` computed by the database.

        None when the store cannot aggregate (the in-memory store): the report then folds
        `report_runs` and `report_tasks` itself.
        """
        ...

    async def report_runs(
        self, since: float, until: float, after: tuple[float, str] | None, limit: int
    ) -> list[RunFacts]:
        """Runs created in `[since, until)`, in `(created_at, id)` order after `after`.

        Only the columns the performance report reads (`RunFacts`), at most `limit`.
        """
        ...

    async def report_tasks(
        self, after: tuple[float, str] | None, last: tuple[float, str]
    ) -> list[TaskFacts]:
        """Top-level tasks of the runs with `after < (created_at, id) <= last` (`TaskFacts`)."""
        ...


class EventStore(Protocol):
    """The persisted event log, read back for SSE replay and history."""

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
        ...

    async def list_event_lines(
        self, *, after: int = 0, limit: int = 100, workflow: str | None = None
    ) -> list[tuple[int, float, str]]:
        """Like `list_events`, as `(id, time, the CloudEvent as one JSON line)`: for exports."""
        ...

    async def list_event_rows(
        self, *, after: int = 0, limit: int = 100, workflow: str | None = None
    ) -> list[tuple[int, float, str, str, str]]:
        """Like `list_events`, as `(id, time, type, subject, data as JSON text)`: for exports.

        A bulk read: a SQL store may read it on a connection with a small page cache, so that
        reading a whole history does not grow the process by the cache."""
        ...

    async def last_event_id(self) -> int:
        """The id of the newest event, 0 when there is none."""
        ...


class KeyValueStore(Protocol):
    """Small documents by kind and key (decisions, users, tokens, settings)."""

    async def kv_put(
        self, kind: str, key: str, value: JsonDict, *, only_if_absent: bool = False
    ) -> bool:
        """Store a document; with `only_if_absent`, keep an existing one and return False."""
        ...

    async def kv_get(self, kind: str, key: str) -> JsonDict | None:
        """A document, or None."""
        ...

    async def kv_list(self, kind: str, limit: int = 1000) -> list[tuple[str, JsonDict]]:
        """Documents of one kind, by key."""
        ...

    async def kv_delete(self, kind: str, key: str) -> bool:
        """Remove a document; False when there was none."""
        ...

    async def kv_put_checked(
        self,
        kind: str,
        key: str,
        value: JsonDict,
        check: KvCheck,
        *,
        limit: int = 1000,
    ) -> None:
        """Store a document only if `check` accepts the documents of `kind` stored now.

        Reading them, `check` and the write are one write transaction, serialised per `kind`
        across every process sharing the store (PostgreSQL: an advisory lock; SQLite: its
        single writer; memory: no await between them), so two checks never both pass on the
        same picture.  `check` is called with at most `limit` documents (by key) and raises to
        refuse; nothing is written then.
        """
        ...


class MetricStore(Protocol):
    """The built-in metric history: points by name, resolution and time, pruned by age."""

    async def metrics_write(self, points: list[MetricPoint]) -> None:
        """Insert points in one transaction; a point at an existing key replaces its value."""
        ...

    async def metrics_query(
        self, name: str, resolution_s: int, start: float, end: float
    ) -> list[MetricPoint]:
        """Points of `name` at `resolution_s` in `[start, end]`, by series, oldest first."""
        ...

    async def metrics_rows(
        self, name: str, resolution_s: int, start: float, end: float
    ) -> list[tuple[str, float, float]]:
        """The same points as `(labels, time, value)` tuples, oldest first (labels break
        ties), so not grouped by series: the fast read of `GET /api/v1/metrics/query`."""
        ...

    async def metrics_names(self) -> list[str]:
        """Every metric name with at least one point, sorted."""
        ...

    async def metrics_prune(self, before: dict[int, float]) -> int:
        """Delete points older than `before[resolution_s]`; return how many went."""
        ...


class AlertStore(Protocol):
    """Alerts: one row per finding, replaced whole on every change of its state."""

    async def alert_put(self, alert: AlertRecord) -> None:
        """Insert the alert, or replace the one with its id."""
        ...

    async def alert_get(self, alert_id: str) -> AlertRecord | None:
        """One alert, or None."""
        ...

    async def alert_list(
        self, *, state: str | None = None, workflow: str | None = None, limit: int = 100
    ) -> list[AlertRecord]:
        """Alerts, most recently fired first, filtered."""
        ...


class AuditStore(Protocol):
    """The hash-chained audit log (`store.audit_records`): appended to, never changed."""

    async def audit_append(self, entries: list[AuditEntry]) -> list[AuditEntry]:
        """Number and chain `entries` after the newest entry and insert them, in ONE
        transaction (so two appends never chain to the same entry); return them sealed."""
        ...

    async def audit_list(
        self,
        *,
        before_id: int | None = None,
        after_id: int | None = None,
        limit: int = 100,
        actor: str | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> list[AuditEntry]:
        """Entries with `since <= time < until`, by `actor`: oldest first after `after_id`,
        else newest first (below `before_id`).  Give at most one of the two ids."""
        ...


class ScheduleStore(Protocol):
    """The `on.schedule` entries of every workflow, and the clock of each."""

    async def sync_schedules(self, workflow: str, entries: list[ScheduleRecord]) -> None:
        """Make `entries` the workflow's schedules, in one transaction.

        An entry whose id and definition (`spec_hash`) are unchanged keeps its clock; a changed
        one takes the new definition and next fire but keeps its pause flag and history; ids no
        longer listed are removed (one-off rows, position < 0, are left alone).
        """
        ...

    async def add_schedule(self, record: ScheduleRecord) -> None:
        """Insert one schedule outside any `on.schedule` (a one-off `run_at`, position < 0);
        `ConflictError` when the id exists.  `sync_schedules` never removes such a row."""
        ...

    async def list_schedules(self, workflow: str | None = None) -> list[ScheduleRecord]:
        """Every schedule (of one workflow), by workflow and position."""
        ...

    async def get_schedule(self, schedule_id: str) -> ScheduleRecord | None:
        """One schedule, or None."""
        ...

    async def due_schedules(self, now: float, limit: int = 1000) -> list[ScheduleRecord]:
        """Unpaused schedules due at `now` (`due_at <= now`) or holding queued fires."""
        ...

    async def next_due_at(self) -> float | None:
        """The soonest `due_at` of an unpaused schedule, None when there is none."""
        ...

    async def update_schedule(
        self, change: ScheduleUpdate, batch: Batch | None = None
    ) -> list[EventRecord]:
        """Write a schedule and `batch` (a fired run, events) in one transaction, or nothing.

        The write applies only while the schedule is still at `change.revision`; otherwise
        `ConflictError` (`NotFoundError` when it is gone) and nothing of `batch` lands either.
        This is what makes a fire durable: its run exists exactly when its clock moved.
        """
        ...

    async def update_schedules(
        self, items: list[tuple[ScheduleUpdate, Batch | None]]
    ) -> list[BaseException | None]:
        """`update_schedule` for many schedules in one transaction: one commit for a tick.

        Each item is all or nothing on its own: an item whose guard lost (changed since read,
        or gone) writes nothing, its batch included, and its error is returned in its place
        (None for an item written); the other items still land.
        """
        ...

    async def run_statuses(self, run_ids: list[str]) -> dict[str, str]:
        """The status of each of these runs that exists (one read per 256 ids)."""
        ...

    async def schedules_token(self) -> Hashable | None:
        """A value that moves whenever a schedule may have changed, in this process or any
        other, except through `update_schedules` (the clock's own fires, which the clock
        knows); equal tokens: the schedules are as they were.  None: this store cannot
        tell cheaply, so the clock reads the due schedules from it at every tick."""
        ...


class Store(
    WorkflowStore,
    RunStore,
    EventStore,
    KeyValueStore,
    ScheduleStore,
    MetricStore,
    AlertStore,
    AuditStore,
    Protocol,
):
    """Everything the services need from persistence.  Open before use, close after."""

    url: str

    async def open(self) -> None:
        """Connect and create or migrate the schema."""
        ...

    async def close(self) -> None:
        """Flush pending writes and release connections."""
        ...

    async def ping(self) -> bool:
        """True when the store answers (for `/readyz`)."""
        ...

    async def take_engine_lock(self) -> bool:
        """Take this store's engine lock unless another live process holds it; True when held.

        One server's engine drives a store at a time: it resumes every active run and fires the
        schedules, so a second one would run them twice.  Another server on the same store
        polls this and takes over when the holder stops or dies (the lock goes with its
        process: a file lock, a PostgreSQL session).  Held until `close`.
        """
        ...


def describe(store: Any) -> str:
    """A short, credential-free name of a store for logs."""
    url = str(getattr(store, "url", type(store).__name__))
    return url.rsplit("@", maxsplit=1)[-1]
