"""Quotas per namespace: what one namespace may hold at once, and how often it may start runs.

Pure data and decisions.  A quota limits, per namespace, the concurrent tasks, the cpu and
memory its running tasks hold, its active runs (started and not ended) and the runs it starts
per hour; its `weight` is its fair share when namespaces contend (`scheduler.fair_share`).
Over quota, by `policy`:

- `queue` (default): the task waits, with its reason on its row ("waiting for quota of
  namespace mobile: 4/4 tasks running"), and starts when the namespace is back under quota;
- `refuse`: a new run is refused (`quota.exceeded`, API 429) while the namespace has as many
  active runs, or started as many runs in the past hour, as its quota allows; tasks of runs
  already accepted still wait for the task, cpu and memory limits (a started run is never cut).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from basir.errors import BasirError
from basir.i18n import _, defer
from basir.resources.fitting import CPU, MEMORY, show_amount, to_amount
from basir.spec.units import parse_size

POLICIES = ("queue", "refuse")
HOUR_S = 3600.0
MAX_COUNT = 1_000_000
MAX_WEIGHT = 1_000
MAX_QUOTAS = 1_000


@dataclass(frozen=True, slots=True)
class Quota:
    """One namespace's limits (None: unlimited); cpu in millicores, memory in bytes."""

    namespace: str
    tasks: int | None = None
    cpu: int | None = None
    memory: int | None = None
    runs: int | None = None
    runs_per_hour: int | None = None
    policy: str = "queue"
    weight: int = 1

    def shown(self) -> dict[str, Any]:
        """As the API shows it: cpu in cores, memory in bytes."""
        data = asdict(self)
        if self.cpu is not None:
            data["cpu"] = self.cpu / 1000
        return data


@dataclass(frozen=True, slots=True)
class Usage:
    """What a namespace holds now: running tasks, cpu, memory, active runs, recent run starts."""

    tasks: int = 0
    cpu: int = 0
    memory: int = 0
    runs: int = 0
    starts: Sequence[float] = ()  # when its runs started, oldest first


@dataclass(frozen=True, slots=True)
class Block:
    """Why a task of the namespace may not start now, and when it may (None: on a release)."""

    limit: str
    reason: str
    retry_at: float | None = None


def _count(value: object, name: str, lo: int, hi: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi:
        return value
    raise BasirError(
        "quota.invalid",
        _(
            "{name} must be a whole number from {lo} to {hi}, got {value}",
            name=name,
            lo=lo,
            hi=hi,
            value=value,
        ),
    )


def checked_quota(namespace: str, body: Mapping[str, Any]) -> Quota:
    """A valid quota from an API/CLI body (`tasks`, `cpu` in cores, `memory` as a size, `runs`,
    `runs_per_hour`, `policy`, `weight`), or `quota.invalid` saying which field is wrong."""
    unknown = sorted(
        set(body) - {"tasks", "cpu", "memory", "runs", "runs_per_hour", "policy", "weight"}
    )
    if unknown:
        raise BasirError("quota.invalid", _("unknown quota field {field}", field=unknown[0]))
    cpu = body.get("cpu")
    cpu_amount: int | None = None
    if cpu is not None:
        if isinstance(cpu, bool) or not isinstance(cpu, int | float) or not 0 < cpu <= MAX_COUNT:
            raise BasirError(
                "quota.invalid",
                _(
                    "cpu must be a number of cores above 0 and at most {hi}, got {value}",
                    hi=MAX_COUNT,
                    value=cpu,
                ),
            )
        cpu_amount = to_amount(CPU, float(cpu))
    memory = body.get("memory")
    memory_amount: int | None = None
    if memory is not None:
        try:
            memory_amount = parse_size(memory)
        except ValueError:
            memory_amount = 0
        if not 0 < memory_amount <= 1 << 50:
            raise BasirError(
                "quota.invalid", _("memory must be a size such as 8Gi, got {value}", value=memory)
            )
    policy = body.get("policy", "queue")
    if policy not in POLICIES:
        raise BasirError(
            "quota.invalid", _("policy must be queue or refuse, got {value}", value=policy)
        )
    weight = _count(body.get("weight", 1), "weight", 1, MAX_WEIGHT)
    return Quota(
        namespace=namespace,
        tasks=_count(body.get("tasks"), "tasks", 1, MAX_COUNT),
        cpu=cpu_amount,
        memory=memory_amount,
        runs=_count(body.get("runs"), "runs", 1, MAX_COUNT),
        runs_per_hour=_count(body.get("runs_per_hour"), "runs_per_hour", 1, MAX_COUNT),
        policy=str(policy),
        weight=weight if weight is not None else 1,
    )


def recent(starts: Sequence[float], now: float) -> list[float]:
    """The starts of the past hour, oldest first."""
    return [t for t in starts if t > now - HOUR_S]


def _rate_block(quota: Quota, usage: Usage, now: float) -> Block | None:
    if quota.runs_per_hour is None:
        return None
    last_hour = recent(usage.starts, now)
    if len(last_hour) < quota.runs_per_hour:
        return None
    reason = defer(
        "waiting for quota of namespace {ns}: {used}/{limit} runs started in the past hour",
        ns=quota.namespace,
        used=len(last_hour),
        limit=quota.runs_per_hour,
    )
    return Block("runs_per_hour", reason, last_hour[-quota.runs_per_hour] + HOUR_S)


def task_block(
    quota: Quota, usage: Usage, request: Mapping[str, int], run_started: bool, now: float
) -> Block | None:
    """Why a task needing `request` may not start under `quota`, or None when it may.

    `run_started`: its run already holds a place among the active runs (under `refuse` every
    accepted run does).  A task needing no cpu or memory is not held back by those limits.
    """
    ns = quota.namespace
    if quota.tasks is not None and usage.tasks + 1 > quota.tasks:
        reason = defer(
            "waiting for quota of namespace {ns}: {used}/{limit} tasks running",
            ns=ns,
            used=usage.tasks,
            limit=quota.tasks,
        )
        return Block("tasks", reason)
    for pool, limit, used in ((CPU, quota.cpu, usage.cpu), (MEMORY, quota.memory, usage.memory)):
        wanted = request.get(pool, 0)
        if limit is not None and wanted > limit:  # even alone: say so, not "0/limit in use"
            reason = defer(
                "waiting for quota of namespace {ns}: needs {wanted} of {pool}, more than its"
                " quota of {limit} allows at once; raise it with basir resources quota set",
                ns=ns,
                pool=pool,
                limit=show_amount(pool, limit),
                wanted=show_amount(pool, wanted),
            )
            return Block(pool, reason)
        if limit is not None and wanted > 0 and used + wanted > limit:
            reason = defer(
                "waiting for quota of namespace {ns}: {pool} {used}/{limit} in use, needs {wanted}",
                ns=ns,
                pool=pool,
                used=show_amount(pool, used),
                limit=show_amount(pool, limit),
                wanted=show_amount(pool, wanted),
            )
            return Block(pool, reason)
    if run_started or quota.policy == "refuse":
        return None
    if quota.runs is not None and usage.runs + 1 > quota.runs:
        reason = defer(
            "waiting for quota of namespace {ns}: {used}/{limit} runs active",
            ns=ns,
            used=usage.runs,
            limit=quota.runs,
        )
        return Block("runs", reason)
    return _rate_block(quota, usage, now)


def run_refusal(quota: Quota, usage: Usage, now: float) -> BasirError | None:
    """Under `refuse`, why a new run of the namespace is refused now (`quota.exceeded`)."""
    if quota.policy != "refuse":
        return None
    block: Block | None = None
    ns = quota.namespace
    last_hour = recent(usage.starts, now)
    if quota.runs is not None and usage.runs >= quota.runs:
        reason = _("{used}/{limit} runs active", used=usage.runs, limit=quota.runs)
        block = Block("runs", reason)
    elif quota.runs_per_hour is not None and len(last_hour) >= quota.runs_per_hour:
        reason = _(
            "{used}/{limit} runs started in the past hour",
            used=len(last_hour),
            limit=quota.runs_per_hour,
        )
        block = Block("runs_per_hour", reason, last_hour[-quota.runs_per_hour] + HOUR_S)
    if block is None:
        return None
    message = _(
        "run refused by the quota of namespace {ns} ({limit}): {reason}; try again later or"
        " raise it with basir resources quota set",
        ns=ns,
        limit=block.limit,
        reason=block.reason,
    )
    return BasirError(
        "quota.exceeded", message, details=[{"field": block.limit, "message": block.reason}]
    )
