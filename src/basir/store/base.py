"""The store interface: the single source of truth under every other package.

A narrow Protocol, one group of verbs per concern.  Every implementation (in-memory, SQLite,
PostgreSQL) passes the same contract suite in `tests/integration/store/`.
"""

from __future__ import annotations

from typing import Any, Protocol

from basir.store.records import (
    Batch,
    EventRecord,
    JsonDict,
    Page,
    RunRecord,
    ScheduleRecord,
    ScheduleUpdate,
    TaskRecord,
    WorkflowVersion,
)


class StoreError(RuntimeError):
    """Base of the store's own errors."""


class ConflictError(StoreError):
    """A guarded write found its row in another state: a race was lost; nothing was written."""


class NotFoundError(StoreError):
    """A guarded write or insert refers to a row that does not exist."""


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


class Store(WorkflowStore, RunStore, EventStore, KeyValueStore, ScheduleStore, Protocol):
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


def describe(store: Any) -> str:
    """A short, credential-free name of a store for logs."""
    url = str(getattr(store, "url", type(store).__name__))
    return url.rsplit("@", maxsplit=1)[-1]
