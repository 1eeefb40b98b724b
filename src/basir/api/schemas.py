"""Request and response bodies of the REST API (pydantic), as documented in `/openapi.json`.

Requests are validated with these models.  Responses are built as plain dicts by the
serialisers in `api.views` and sent as-is (serialised once); the response models here exist
to document them, and the schemathesis suite checks that the two agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from basir.coordinator.callback_delivery import MAX_CALLBACK_URL_CHARS, callback_url_problem
from basir.spec.models import NAME_PATTERN, Duration, Priority
from basir.states import RunStatus

MAX_PARAMS = 256
MAX_RUNS_PAGE = 200
MAX_EVENTS_PAGE = 1000
EVENT_TYPES_PATTERN = r"^[a-z0-9_.-]{1,64}(,[a-z0-9_.-]{1,64}){0,31}$"
MAX_PATCH_TASKS = 1000
DECISION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"

PriorityIn = Priority
DurationIn = Duration


class Body(BaseModel):
    """Base of request bodies: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class RunStart(Body):
    """Start a run of a workflow."""

    params: dict[str, Any] = Field(default_factory=dict, max_length=MAX_PARAMS)
    priority: PriorityIn | None = None
    deadline: DurationIn | None = Field(None, description="from run start: 30m, 2h, …")
    version: StrictInt | None = Field(None, ge=1, le=2**31 - 1, description="default: the latest")
    run_at: datetime | None = Field(
        None, description="start later, once (ISO 8601; no offset: UTC) → 202 and a schedule"
    )


class RunPatch(Body):
    """Add tasks to a live run (each a task of the workflow spec, DESIGN §4)."""

    tasks: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_PATCH_TASKS)


class TaskPause(Body):
    """Hold a task; optionally stop it if running, and resume it automatically later."""

    stop_running: bool = False
    resume_at: datetime | None = Field(None, description="ISO 8601 time or Unix seconds")


class DecisionIn(Body):
    """An L2 decision: run `workflow` at most once per `decision_id`."""

    decision_id: str = Field(pattern=DECISION_ID_PATTERN)
    workflow: str = Field(pattern=NAME_PATTERN)
    params: dict[str, Any] = Field(default_factory=dict, max_length=MAX_PARAMS)
    priority: PriorityIn | None = None
    deadline: DurationIn | None = None
    callback_url: str | None = Field(
        None,
        max_length=MAX_CALLBACK_URL_CHARS,
        description="http(s) URL POSTed a signed JSON report when the run ends (at least once)",
    )

    @field_validator("callback_url")
    @classmethod
    def _callback_url(cls, value: str | None) -> str | None:
        if value is not None and (problem := callback_url_problem(value)) is not None:
            raise ValueError(problem)
        return value


class RunQuery(BaseModel):
    """Filters and paging of `GET /runs`; an unknown parameter (a typo) is an error."""

    model_config = ConfigDict(extra="forbid")

    status: RunStatus | None = Field(None, description="only runs in this state")
    workflow: str | None = Field(None, pattern=NAME_PATTERN, description="only this workflow")
    limit: int = Field(50, ge=1, le=MAX_RUNS_PAGE, description="page size")
    cursor: str | None = Field(None, max_length=512, description="`next` of the previous page")


class EventQuery(BaseModel):
    """Filters and paging of `GET /events/history`; an unknown parameter is an error."""

    model_config = ConfigDict(extra="forbid")

    run: str | None = Field(None, max_length=128, description="only events of this run")
    workflow: str | None = Field(None, pattern=NAME_PATTERN, description="only this workflow")
    type: str | None = Field(
        None, pattern=EVENT_TYPES_PATTERN, description="types, comma separated (task.failed)"
    )
    limit: int = Field(100, ge=1, le=MAX_EVENTS_PAGE, description="page size")
    cursor: str | None = Field(None, max_length=20, description="`next` of the previous page")


class Status(BaseModel):
    """A liveness or readiness answer."""

    status: str


class Ready(Status):
    """Readiness with its parts: the store answers and the engine's pump runs."""

    store: str
    engine: str


class WorkflowSummary(BaseModel):
    """One version of a workflow, without its spec."""

    name: str
    version: int
    namespace: str
    description: str | dict[str, str] | None = None
    spec_hash: str
    created_at: str | None = None
    created_by: str | None = None


class WorkflowDetail(WorkflowSummary):
    """One version of a workflow with its canonical spec."""

    spec: dict[str, Any]


class WorkflowList(BaseModel):
    """Workflows (latest versions) or the versions of one workflow."""

    items: list[WorkflowSummary]


class WorkflowApplied(BaseModel):
    """The version a POST /workflows stored (or found unchanged)."""

    name: str
    version: int
    created: bool


class TaskView(BaseModel):
    """A task in a run (DESIGN §6)."""

    status: str
    attempts: int
    outputs: dict[str, Any]
    usage: dict[str, Any] | None = Field(
        None,
        description="cpu, memory and I/O use: now (cpu_cores, memory_bytes, processes,"
        " io_read_bytes, io_write_bytes) while it runs; peaks and totals (cpu_seconds,"
        " peak_cpu_cores, peak_memory_bytes, I/O) once ended",
    )


class RunView(BaseModel):
    """A run with its tasks: the `basir run --json` shape plus timestamps."""

    run_id: str
    workflow: str
    version: int
    status: str
    tasks: dict[str, TaskView]


class RunSummary(BaseModel):
    """A run in a listing."""

    run_id: str
    workflow: str
    version: int
    status: str
    priority: int
    trigger: str
    logical_time: str = Field(
        description="the time the run stands for: a scheduled or backfilled run's fire in its"
        " schedule's offset (2026-12-02T02:00:00+03:00), else when it was created"
    )
    created_by: str | None = None
    error: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    deadline_at: str | None = None


class RunPage(BaseModel):
    """One page of runs, newest first."""

    items: list[RunSummary]
    next: str | None = Field(None, description="cursor of the next page; null at the end")


class TaskState(BaseModel):
    """A task after a pause or resume."""

    run_id: str
    task_id: str
    status: str
    attempts: int
    held: bool
    hold_until: str | None = None


class CloudEvent(BaseModel):
    """One event of the log, CloudEvents-shaped."""

    id: str
    type: str
    source: str
    specversion: str
    time: str
    subject: str
    data: dict[str, Any]


class EventPage(BaseModel):
    """One page of the event log, oldest first."""

    items: list[CloudEvent]
    next: str | None = Field(None, description="cursor of the next page; null at the end")


class DecisionOut(BaseModel):
    """The run that carries out a decision."""

    decision_id: str
    run_id: str
    status: str


class DecisionCallbackView(BaseModel):
    """Where a decision's callback stands."""

    state: str = Field(description="waiting | sending | delivered | failed | rejected")
    attempts: int = 0
    delivery_id: str | None = None
    last_error: str | None = None
    delivered_at: str | None = None


class DecisionView(BaseModel):
    """A decision with its run's status and, once finished, its outcome."""

    decision_id: str
    workflow: str | None = None
    run_id: str | None = None
    status: str
    outcome: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    callback_url: str | None = None
    callback: DecisionCallbackView | None = None
    created_at: str | None = None
    created_by: str | None = None


class ScheduleView(BaseModel):
    """One schedule; times in ISO 8601 with the schedule's own offset."""

    id: str
    workflow: str
    cron: str | None = None  # None: a one-off (`run_at`)
    timezone: str
    paused: bool
    overlap: str
    catchup: str
    last_fire: str | None = None
    last_run_id: str | None = None
    next_fire: str | None = None
    queued: list[str] = []


class ScheduleList(BaseModel):
    """Schedules, by workflow and position."""

    items: list[ScheduleView]
