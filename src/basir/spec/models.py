"""The workflow spec of DESIGN.md §4 as pydantic models: the single schema for YAML and JSON.

Models validate shape and local rules (names, units, one body per task).  Rules that need the
whole workflow (unknown `needs`, cycles, duplicate ids) live in `spec.validate`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from basir.i18n import _
from basir.spec.errors import IssueCode, SpecValueError
from basir.spec.units import format_duration, parse_duration, parse_size

MAX_TASKS = 10_000
NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
TASK_ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,62}$"
PARAM_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,62}$"
TEMPLATE_REF_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}(/[a-z0-9][a-z0-9._-]{0,62}){0,3}$"
PYTHON_REF_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.]{0,200}:[A-Za-z_][A-Za-z0-9_.]{0,100}$"
BODY_KEYS = ("run", "python", "http", "uses", "workflow")
PRIORITY_CLASSES = {"critical": 90, "high": 70, "normal": 50, "low": 20}

Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^\d+(\.\d+)?(ms|s|m|h|d)$"},
                {"type": "number", "minimum": 0},
            ],
            "description": "500ms, 30s, 5m, 2h, 1d, or seconds",
        }
    ),
]
Size = Annotated[
    int,
    BeforeValidator(parse_size),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^\d+(\.\d+)?(Ki|Mi|Gi|Ti|K|M|G|T|k|B)?$"},
                {"type": "integer", "minimum": 0},
            ],
            "description": "512Mi, 2Gi, 1G, or bytes",
        }
    ),
]


def parse_priority(value: object) -> int:
    """`critical | high | normal | low` or 0..100 → a number; higher runs first."""
    if isinstance(value, str) and value in PRIORITY_CLASSES:
        return PRIORITY_CLASSES[value]
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 100:
        return value
    raise ValueError(_("priority must be critical, high, normal, low or a number 0..100"))


Priority = Annotated[
    int,
    BeforeValidator(parse_priority),
    WithJsonSchema(
        {
            "anyOf": [
                {"enum": list(PRIORITY_CLASSES)},
                {"type": "integer", "minimum": 0, "maximum": 100},
            ]
        }
    ),
]


def _env_strings(value: object) -> object:
    """`PORT: 8080` and `DEBUG: true` are meant as text: env values are always strings."""
    if not isinstance(value, dict):
        return value
    out: dict[object, object] = {}
    for key, item in value.items():
        if isinstance(item, bool):
            out[key] = "true" if item else "false"
        elif isinstance(item, int | float):
            out[key] = str(item)
        else:
            out[key] = item
    return out


EnvVars = Annotated[dict[str, str], BeforeValidator(_env_strings)]


class Strict(BaseModel):
    """Base of every spec model: unknown keys are errors, values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _as_retry_policy(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        return {"max": value}
    return value


class OomGrowth(Strict):
    """How a retry after a task was stopped for its memory grows the task's `memory` limit."""

    grow: StrictFloat = Field(1.5, gt=1.0, le=10.0, description="factor on the memory limit")
    max: Size | None = Field(None, description="the limit never grows beyond this size")


class RetryPolicy(Strict):
    """How often and how patiently a failed task is tried again."""

    max: StrictInt = Field(0, ge=0, le=100, description="retries after the first attempt")
    backoff: Literal["fixed", "exponential"] = "fixed"
    delay: Duration = Field(1.0, description="wait before the first retry")
    max_delay: Duration = Field(300.0, description="cap on the wait between attempts")
    jitter: StrictFloat = Field(0.0, ge=0.0, le=1.0, description="random share of each wait")
    on_oom: OomGrowth | None = Field(
        None, description="after a stop for memory, the next attempt gets a larger limit"
    )


Retries = Annotated[RetryPolicy, BeforeValidator(_as_retry_policy)]


PLANNED = "planned (roadmap {n}): refused with spec.unsupported until it lands"
BUILTIN_POOL_NAMES = frozenset({"cpu", "memory", "disk"})
MIN_MEMORY_BYTES = 1 << 20  # less is a mistake (`memory: 512` is bytes), and no task runs in it


def _not_a_flag(value: object) -> object:
    """An amount is a number: `true` is not 1."""
    if isinstance(value, bool):
        raise ValueError(_("must be a number, got {value}", value=str(value).lower()))
    return value


class Resources(Strict):
    """What a task needs to start: cpu cores, memory and slots of named pools.

    The engine starts the task only when all of it fits (`basir.resources`); a request that
    could never fit is refused when the workflow is applied or run.
    """

    cpu: Annotated[StrictFloat, BeforeValidator(_not_a_flag)] | None = Field(None, gt=0, le=1024)
    memory: Size | None = None
    disk: Size | None = None  # space in the data dir's file system (a counted pool)
    pools: dict[
        str, Annotated[StrictInt, BeforeValidator(_not_a_flag), Field(ge=1, le=1_000_000)]
    ] = Field(default_factory=dict, max_length=32)
    memory_limit: Literal["auto", "sampler"] | None = Field(
        None,
        description="sampler: no kernel limit (RLIMIT_AS, cgroup), only the usage sampler's"
        " check of resident memory (for runtimes that reserve address space, the JVM, Dart)",
    )

    @model_validator(mode="after")
    def _amounts_mean_something(self) -> Resources:
        # `pools:` counts slots: cpu there would be millicores, memory bytes — never meant.
        for name in self.pools:
            if name in BUILTIN_POOL_NAMES:
                message = _(
                    "{pool} is not a custom pool: declare it as resources.{pool}", pool=name
                )
                raise SpecValueError(IssueCode.INVALID_VALUE, message, at=("pools", name))
        if self.memory is not None and self.memory < MIN_MEMORY_BYTES:
            message = _("memory must be at least 1Mi (a plain number is bytes)")
            raise SpecValueError(IssueCode.INVALID_VALUE, message, at=("memory",))
        if self.disk == 0:
            message = _("disk must be more than 0 (a plain number is bytes)")
            raise SpecValueError(IssueCode.INVALID_VALUE, message, at=("disk",))
        return self

    @model_validator(mode="after")
    def _limit_needs_memory(self) -> Resources:
        if self.memory_limit is not None and self.memory is None:
            message = _("memory_limit needs memory: it says how that memory is limited")
            raise SpecValueError(IssueCode.INVALID_VALUE, message, at=("memory_limit",))
        return self


def _as_concurrency_key(value: object) -> object:
    return {"key": value} if isinstance(value, str) else value


class ConcurrencyKey(Strict):
    """At most `limit` holders of each value of `key` at once (runs, or tasks), and on a task
    at most `rate` starts per value (`10/s`, `60/m`, `100/h`: a token bucket per value).

    `key` is an expression evaluated with the run's params (`"${{ params.branch }}"`); runs
    (or tasks) whose values differ never wait for each other.  `limit` defaults to 1, or to no
    cap on holders when only a `rate` is given.
    """

    key: str = Field(min_length=1, max_length=1024)
    limit: StrictInt | None = Field(None, ge=1, le=100_000)
    rate: str | None = Field(None, pattern=r"^[1-9][0-9]{0,5}/[smh]$", description="10/s")

    @property
    def holders(self) -> int | None:
        """Most holders of one value at once (None: no cap)."""
        if self.limit is not None:
            return self.limit
        return None if self.rate is not None else 1

    @property
    def per_value_rate(self) -> tuple[int, float] | None:
        """`rate` as (starts, per seconds), None when not set."""
        if self.rate is None:
            return None
        count, _sep, unit = self.rate.partition("/")
        return int(count), {"s": 1.0, "m": 60.0, "h": 3600.0}[unit]


ConcurrencyKeySpec = Annotated[ConcurrencyKey, BeforeValidator(_as_concurrency_key)]
QUEUE_DOC = "named queue (BASIR_QUEUES) whose running-task and rate limits the task obeys"
KEY_DOC = 'a key with limits per value: "${{ params.branch }}" or {key, limit: 2, rate: 10/s}'


class Cache(Strict):
    """Content-addressed caching of a task's outputs (roadmap 10; refused until then)."""

    key: str = Field(max_length=4096)
    paths: list[str] = Field(default_factory=list, max_length=64)


class HttpCall(Strict):
    """An HTTP request made by the `http` executor."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = "GET"
    url: str = Field(max_length=8192)
    headers: dict[str, str] = Field(default_factory=dict, max_length=64)
    json_body: Any = Field(None, alias="json")
    body: str | None = Field(None, max_length=10_000_000)
    expect: list[StrictInt] | StrictInt | None = Field(
        None, description="expected status code(s); default any 2xx"
    )
    timeout: Duration | None = None

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class Schedule(Strict):
    """A cron trigger run by `basir server` (see docs/how-to/schedule-workflows.md)."""

    cron: str = Field(max_length=200, description="5 or 6 fields (seconds first), or @daily…")
    timezone: str = Field("UTC", max_length=64, description="IANA zone the cron is read in")
    start: datetime | None = Field(None, description="no fire before; naive: in `timezone`")
    end: datetime | None = Field(None, description="no fire after; naive: in `timezone`")
    jitter: Duration = Field(0.0, description="each fire is delayed by a stable 0..jitter")
    overlap: Literal["skip", "queue", "allow"] = Field(
        "skip", description="when the previous run of this schedule is still active"
    )
    catchup: Literal["none", "latest", "all"] = Field(
        "latest", description="fires missed while no server ran or while paused"
    )
    catchup_limit: StrictInt | None = Field(
        None, ge=1, le=1000, description="with catchup: all, the newest N missed fires at most"
    )
    dst_gap: Literal["shift", "skip"] = Field(
        "shift", description="a local time skipped by DST: fire once just after the gap, or not"
    )
    dst_fold: Literal["once", "twice"] = Field(
        "once", description="a local time repeated by DST: fire at its first occurrence or both"
    )

    @model_validator(mode="after")
    def _window(self) -> Schedule:
        if (
            self.start is not None
            and self.end is not None
            and _aware(self.end, self.timezone) <= (_aware(self.start, self.timezone))
        ):
            raise SpecValueError(
                IssueCode.INVALID_VALUE, _("end must come after start in a schedule")
            )
        if self.jitter > 0:
            self._check_jitter()
        if self.catchup_limit is not None and self.catchup != "all":
            # Only `catchup: all` runs several missed fires: a cap on anything else would be
            # accepted and ignored (DESIGN invariant 7).
            raise SpecValueError(
                IssueCode.INVALID_VALUE,
                _("catchup_limit caps catchup: all; set catchup: all or remove catchup_limit"),
                at=("catchup_limit",),
            )
        return self

    def _check_jitter(self) -> None:
        """A jitter longer than the time between two fires would let a fire come due after
        the next one: the clock would then count the earlier one as missed (`catchup`)."""
        from basir.spec.cron import cron_problem, has_gap_within

        if cron_problem(self.cron) is not None:
            return  # reported on `cron` itself
        gap = has_gap_within(self.cron, self.jitter - 1e-9)
        if gap is not None:
            raise SpecValueError(
                IssueCode.INVALID_VALUE,
                _(
                    "jitter {jitter} is longer than the {gap} between two fires of cron {cron}:"
                    " use a jitter of at most {gap}",
                    jitter=format_duration(self.jitter),
                    gap=format_duration(gap),
                    cron=self.cron,
                ),
                at=("jitter",),
            )

    def window(self) -> tuple[float | None, float | None]:
        """`start` and `end` as epoch seconds (a naive time is read in `timezone`)."""
        start = None if self.start is None else _aware(self.start, self.timezone).timestamp()
        end = None if self.end is None else _aware(self.end, self.timezone).timestamp()
        return start, end


def _aware(moment: datetime, zone: str) -> datetime:
    if moment.tzinfo is not None:
        return moment
    from zoneinfo import ZoneInfo

    try:
        return moment.replace(tzinfo=ZoneInfo(zone))
    except (ValueError, KeyError, OSError):  # a bad zone is reported on its own field
        return moment.replace(tzinfo=UTC)


class GitTrigger(Strict):
    """A git webhook trigger (roadmap 9; refused until then)."""

    events: list[str] = Field(default_factory=lambda: ["push"], max_length=16)
    branches: list[str] = Field(default_factory=list, max_length=64)


class Triggers(Strict):
    """The `on:` block: what starts this workflow besides a user or L2."""

    schedule: list[Schedule] = Field(
        default_factory=list, max_length=64, description="cron triggers run by basir server"
    )
    git: GitTrigger | None = Field(None, description=PLANNED.format(n=9))


class Param(Strict):
    """A typed run parameter."""

    type: Literal["string", "integer", "number", "boolean", "array", "object"] = "string"
    default: Any = None
    required: bool = False
    description: str | dict[str, str] | None = None
    enum: list[Any] | None = Field(None, max_length=1000)


class Defaults(Strict):
    """Values every task inherits unless it sets its own."""

    retries: Retries | None = None
    timeout: Duration | None = None
    env: EnvVars = Field(default_factory=dict, max_length=256)
    workdir: str | None = None
    queue: str | None = Field(None, pattern=NAME_PATTERN, description=QUEUE_DOC)
    resources: Resources | None = Field(None, description="for tasks without their own")
    preemptible: bool = Field(False, description="for tasks that do not say it themselves")


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str) else value


class Task(Strict):
    """One node of the DAG.  Exactly one body: run, python, http, uses or workflow."""

    id: str = Field(pattern=TASK_ID_PATTERN)
    name: str | dict[str, str] | None = None
    run: str | None = Field(None, max_length=1_000_000)
    python: str | None = Field(None, pattern=PYTHON_REF_PATTERN)
    args: list[Any] | dict[str, Any] | None = None
    isolate: bool = Field(False, description="run a python task in a child process")
    http: HttpCall | None = None
    uses: str | None = Field(None, pattern=TEMPLATE_REF_PATTERN)
    with_: dict[str, Any] = Field(default_factory=dict, alias="with", max_length=256)
    workflow: str | None = Field(None, pattern=NAME_PATTERN)
    needs: Annotated[list[str], BeforeValidator(_as_list)] = Field(
        default_factory=list, max_length=10_000
    )
    if_: str | bool | None = Field(None, alias="if")
    when: Literal["on_success", "on_failure", "always"] = "on_success"
    retries: Retries | None = None
    timeout: Duration | None = None
    priority: Priority | None = None
    deadline: Duration | None = Field(
        None, description="from the run's start; orders the queue, at-risk and missed events"
    )
    resources: Resources | None = Field(None, description="cpu, memory and pool slots to start")
    preemptible: bool | None = Field(
        None, description="a critical task may stop it to start, and it runs again later"
    )
    queue: str | None = Field(None, pattern=NAME_PATTERN, description=QUEUE_DOC)
    concurrency_key: ConcurrencyKeySpec | None = Field(None, description=KEY_DOC)
    env: EnvVars = Field(default_factory=dict, max_length=256)
    workdir: str | None = Field(None, max_length=4096)
    cache: Cache | None = Field(None, description=PLANNED.format(n=10))
    foreach: str | list[Any] | None = None
    continue_on_error: bool = False
    shell: str | None = Field(None, max_length=256, description="interpreter for run:, e.g. bash")

    @model_validator(mode="after")
    def _exactly_one_body(self) -> Task:
        bodies = [key for key in BODY_KEYS if getattr(self, key) is not None]
        if len(bodies) != 1:
            if bodies:
                message = _(
                    "a task has exactly one body, found: {bodies}", bodies=", ".join(bodies)
                )
                raise SpecValueError(IssueCode.TWO_BODIES, message, at=(bodies[1],))
            message = _("a task needs a body: run, python, http, uses or workflow")
            raise SpecValueError(IssueCode.NO_BODY, message)
        if self.args is not None and self.python is None:
            raise SpecValueError(
                IssueCode.INVALID_VALUE, _("args is only for python tasks"), at=("args",)
            )
        return self

    @property
    def body_kind(self) -> str:
        """Which executor runs this task: run, python, http, uses or workflow."""
        return next(key for key in BODY_KEYS if getattr(self, key) is not None)


class WorkflowSpec(Strict):
    """A whole workflow: metadata, parameters, triggers, defaults and the task DAG."""

    name: str = Field(pattern=NAME_PATTERN)
    description: str | dict[str, str] | None = None
    namespace: str = Field("default", pattern=NAME_PATTERN)
    params: dict[str, Param] = Field(default_factory=dict, max_length=256)
    priority: Priority = 50
    deadline: Duration | None = None
    concurrency: StrictInt | None = Field(None, ge=1, le=100_000)
    concurrency_key: ConcurrencyKeySpec | None = Field(None, description=KEY_DOC)
    max_active_runs: StrictInt | None = Field(
        None, ge=1, le=100_000, description="runs active at once; later ones stay queued"
    )
    on: Triggers | None = None
    defaults: Defaults = Field(default_factory=Defaults)
    env: EnvVars = Field(default_factory=dict, max_length=256)
    tasks: list[Task] = Field(min_length=1, max_length=MAX_TASKS)

    @field_validator("concurrency_key")
    @classmethod
    def _runs_have_no_rate(cls, value: ConcurrencyKey | None) -> ConcurrencyKey | None:
        if value is not None and value.rate is not None:
            message = _("rate is for a task's concurrency_key; a workflow's limits its runs only")
            raise SpecValueError(IssueCode.INVALID_VALUE, message, at=("rate",))
        return value

    @field_validator("params")
    @classmethod
    def _param_names(cls, value: dict[str, Param]) -> dict[str, Param]:
        import re

        for key in value:
            if not re.match(PARAM_NAME_PATTERN, key):
                message = _("bad parameter name: {name}", name=key)
                raise SpecValueError(IssueCode.INVALID_VALUE, message, at=(key,))
        return value

    def task(self, task_id: str) -> Task:
        """The task with this id; KeyError when there is none."""
        for task in self.tasks:
            if task.id == task_id:
                return task
        raise KeyError(task_id)
