"""Plain records the store reads and writes.  No behaviour, no I/O: the shared vocabulary.

Statuses are plain strings here (the store is below the engine and knows no lifecycle); the
engine's `RunStatus` / `TaskStatus` are `StrEnum`s, so they pass for these strings as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from math import modf
from typing import Any, NamedTuple

JsonDict = dict[str, Any]
EVENT_SOURCE = "basir/l3"


@lru_cache(maxsize=4096)
def _second(whole: int) -> str:
    return datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def cloudevent_time(moment: float) -> str:
    """An event's `time` as DESIGN §7 shows it: ISO 8601 in UTC with a `Z`.

    The same text as `datetime.fromtimestamp(moment, UTC).isoformat()` with `Z` for
    `+00:00` (microseconds rounded half to even, none written when zero), a third of its
    cost: the date and time of a whole second are cached (exports format a million of these).
    """
    fraction, whole = modf(moment)
    micros = round(fraction * 1e6)
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    elif micros < 0:
        whole, micros = whole - 1, micros + 1_000_000
    head = _second(int(whole))
    return f"{head}.{micros:06d}Z" if micros else f"{head}Z"


@dataclass(slots=True)
class WorkflowVersion:
    """One immutable version of a named workflow spec (its canonical JSON form)."""

    name: str
    version: int
    namespace: str
    spec: JsonDict
    spec_hash: str
    created_at: float
    created_by: str | None = None


@dataclass(slots=True)
class RunRecord:
    """A run of one pinned workflow version."""

    id: str
    workflow: str
    version: int
    status: str
    params: JsonDict = field(default_factory=dict)
    priority: int = 50
    deadline_at: float | None = None
    concurrency: int | None = None
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    updated_at: float = 0.0
    trigger: str = "user"
    created_by: str | None = None
    error: str | None = None
    namespace: str = "default"
    # The time a scheduled or backfilled run stands for (its fire), ISO 8601 in the
    # schedule's own offset; None for the runs nothing scheduled.
    logical_time: str | None = None


@dataclass(slots=True)
class TaskRecord:
    """One task (or one `foreach` instance) of a run, with its latest attempt."""

    run_id: str
    task_id: str
    status: str
    attempts: int = 0
    outputs: JsonDict = field(default_factory=dict)
    error: str | None = None
    queued_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    updated_at: float = 0.0
    next_attempt_at: float | None = None
    attempt_id: str | None = None
    parent_id: str | None = None
    item_index: int | None = None
    item: Any = None
    # The task's spec when it is not the pinned version's (PATCH-added tasks, foreach instances).
    spec: JsonDict | None = None
    held: bool = False
    hold_until: float | None = None
    # The process group of the latest attempt and its leader's start time (clock ticks since
    # boot, `/proc/<pid>/stat` field 22), recorded before the body starts: after a crash, the
    # group is stopped only if it is still that very process (a reused pid never matches).
    attempt_pgid: int | None = None
    attempt_proc_start: int | None = None
    # Why a queued task waits for resources: "waiting for cpu: 2/2 in use by run X task Y", as a
    # deferred message (JSON, `basir.i18n.deferred`; older rows: plain text): show with
    # `render_message`.
    waiting: str | None = None
    # What the latest attempt used once it ended (`resources.usage.summary`), if sampled.
    usage: JsonDict | None = None
    # The memory limit (bytes) a retry grew after a stop for memory (`retries.on_oom`).
    memory_limit: int | None = None
    # How many of its attempts were stopped to let a critical task start (each re-queued
    # without spending a retry): `task.preempted` events say by whom.
    preemptions: int = 0
    # The named queue the latest attempt started in (None: no queue), and how long it was held
    # back by queue, concurrency-key and rate limits before it started (scheduler analytics).
    queue: str | None = None
    throttled_s: float | None = None


@dataclass(slots=True)
class EventRecord:
    """One persisted state change: the CloudEvents-shaped unit of the event log."""

    type: str
    subject: str
    time: float
    data: JsonDict = field(default_factory=dict)
    run_id: str | None = None
    workflow: str | None = None
    task_id: str | None = None
    id: int = 0

    def to_cloudevent(self) -> JsonDict:
        """The public shape of DESIGN §7: `{id, type, source, time, subject, data}`."""
        return {
            "id": str(self.id),
            "type": self.type,
            "source": EVENT_SOURCE,
            "specversion": "1.0",
            "time": cloudevent_time(self.time),
            "subject": self.subject,
            "data": self.data,
        }


@dataclass(slots=True)
class RunInsert:
    """Create a run together with its initial task rows."""

    run: RunRecord
    tasks: list[TaskRecord]


@dataclass(slots=True)
class TaskInsert:
    """Add a task row to an existing run (foreach instance, PATCH-added task)."""

    task: TaskRecord


@dataclass(slots=True)
class RunUpdate:
    """A guarded update of a run: applied only if its status is in `from_statuses` (None: any)."""

    run_id: str
    fields: JsonDict
    from_statuses: tuple[str, ...] | None = None


@dataclass(slots=True)
class TaskUpdate:
    """A guarded update of a task row: applied only if its status is in `from_statuses`."""

    run_id: str
    task_id: str
    fields: JsonDict
    from_statuses: tuple[str, ...] | None = None


Change = RunInsert | TaskInsert | RunUpdate | TaskUpdate


@dataclass(slots=True)
class Batch:
    """Changes and their events, committed in one transaction or not at all."""

    changes: list[Change] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.changes or self.events)

    def extend(self, other: Batch) -> None:
        """Append another batch's changes and events, keeping their order."""
        self.changes.extend(other.changes)
        self.events.extend(other.events)


@dataclass(slots=True)
class Page:
    """One page of a listing, with the cursor of the next page (None at the end)."""

    items: list[Any]
    next: str | None = None


@dataclass(slots=True)
class MetricPoint:
    """One value of one metric series at one time, at one resolution of the history.

    `labels` is the canonical JSON of the series' labels (sorted keys, `{}` for none), so a
    series is (`name`, `labels`).  `resolution_s` is 0 for raw samples, 60 for per-minute and
    3600 for per-hour rollups; a rollup's `time` is the start of its minute or hour and its
    value the last sample seen in it.
    """

    name: str
    labels: str
    resolution_s: int
    time: float
    value: float


@dataclass(slots=True)
class AlertRecord:
    """One alert: a rule's finding about one thing (e.g. one failed run), and its life.

    `state` is `firing` or `resolved`; acknowledging or silencing does not change it.
    `data` holds what the message is built from (workflow, run id, error), so it is rendered
    in the reader's language.
    """

    id: str
    rule: str
    state: str
    severity: str
    workflow: str | None
    run_id: str | None
    fired_at: float
    updated_at: float
    data: JsonDict = field(default_factory=dict)
    resolved_at: float | None = None
    acked_by: str | None = None
    acked_at: float | None = None
    silenced_by: str | None = None


@dataclass(slots=True)
class ScheduleRecord:
    """One `on.schedule` entry of a workflow, with where its clock stands.

    `next_fire_at` is the logical (cron) time of the next fire and `due_at` that time plus
    the entry's stable jitter: the server fires when `due_at` has passed.  `queued` holds the
    logical times of fires waiting for the previous run to end (`overlap: queue`).  Every
    write bumps `revision`; a fire is guarded by it, so two firers never both win.
    """

    id: str  # "<workflow>:<position>"
    workflow: str
    position: int
    cron: str
    timezone: str
    options: JsonDict  # the whole entry, canonical JSON
    spec_hash: str
    paused: bool = False
    paused_at: float | None = None  # when it was paused; cleared by the first fire after
    next_fire_at: float | None = None  # None: no fire left (past `end`)
    due_at: float | None = None
    last_fire_at: float | None = None
    last_run_id: str | None = None
    queued: list[float] = field(default_factory=list)
    revision: int = 0
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(slots=True)
class ScheduleUpdate:
    """A write to one schedule, applied only while it is still at `revision`."""

    id: str
    revision: int
    fields: JsonDict


class RunFacts(NamedTuple):
    """What the performance report reads of a run (`Store.report_runs`)."""

    id: str
    workflow: str
    status: str
    created_at: float
    started_at: float | None
    finished_at: float | None
    deadline_at: float | None
    error: str | None


class TaskFacts(NamedTuple):
    """What the performance report reads of a top-level task (`Store.report_tasks`).

    `error` is set only when the task failed.
    """

    run_id: str
    task_id: str
    status: str
    attempts: int
    queued_at: float | None
    started_at: float | None
    finished_at: float | None
    error: str | None


@dataclass(slots=True)
class ReportAggregate:
    """The performance report's figures as a SQL store computes them (`Store.report_aggregate`).

    Rows, each a plain tuple:
    - `runs`: `(workflow, runs, in_progress, successes, failures, cancelled, deadline_runs,
      deadline_hits)`;
    - `run_values`: `(workflow, duration)` of ended runs;
    - `task_values`: `(workflow, task, status, attempts, duration | None, wait | None)` of
      their top-level tasks;
    - `failed_tasks`: `(workflow, task, run_id, run_status, error)`;
    - `failed_runs`: `(workflow, run_id, error)`.
    """

    runs: list[tuple[Any, ...]]
    run_values: list[tuple[Any, ...]]
    task_values: list[tuple[Any, ...]]
    failed_tasks: list[tuple[Any, ...]]
    failed_runs: list[tuple[Any, ...]]
