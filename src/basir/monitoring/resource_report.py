"""Resource analytics, recommendations and forecasts, read from the store's metric history.

The thin shell around `resources.planning` and `resources.advice`: it reads the pool series
(`basir_pool_capacity`, `basir_pool_in_use`, `basir_pool_wait_seconds_total`, written by the
server's history sampler) and the per-task usage series (`basir_task_cpu_cores`,
`basir_task_memory_bytes`, written by the engine's usage sampler) over a window, looks up what
each task declares in its workflow's latest version, and hands plain points to the pure
functions.  Windows up to an hour read raw points, up to a week per-minute ones, longer ones
per-hour ones.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from basir.errors import BasirError
from basir.i18n import _
from basir.resources.advice import recommendations
from basir.resources.fitting import CPU, MEMORY, MILLI, request_of
from basir.resources.planning import (
    Point,
    PoolHistory,
    TaskProfile,
    analyse_pool,
    bottlenecks,
    forecast_pool,
    percentile,
    utilisation,
)
from basir.spec.models import WorkflowSpec
from basir.spec.units import parse_duration
from basir.store.base import MetricStore, WorkflowStore

MIN_WINDOW_S = 300.0
MAX_WINDOW_S = 365 * 86400.0
MAX_SCALE = 1000.0
MAX_TASK_PROFILES = 500
CAPACITY, IN_USE = "basir_pool_capacity", "basir_pool_in_use"
WAITED = "basir_pool_wait_seconds_total"  # a counter: its samples carry `_total`
TASK_CPU, TASK_MEMORY = "basir_task_cpu_cores", "basir_task_memory_bytes"


def parse_window(text: str | None, default_s: float) -> float:
    """Seconds from `24h`, `7d`, `90m` (5m .. 365d); `resources.bad_window` otherwise."""
    if text is None:
        return default_s
    try:
        seconds = parse_duration(text.strip())
    except ValueError:
        seconds = -1.0
    if not MIN_WINDOW_S <= seconds <= MAX_WINDOW_S:
        raise BasirError(
            "resources.bad_window",
            _("{value} is not a window: give a duration from 5m to 365d, such as 24h", value=text),
        )
    return seconds


def check_scale(scale: float | None) -> float | None:
    """A load multiplier for the forecast (0 < scale <= 1000); `resources.bad_scale` otherwise."""
    if scale is not None and not 0 < scale <= MAX_SCALE:
        raise BasirError(
            "resources.bad_scale",
            _(
                "scale must be above 0 and at most {limit}, such as 2 for twice the load",
                limit=1000,
            ),
        )
    return scale


def resolution_for(window_s: float) -> int:
    """Raw points for an hour or less, per minute up to a week, per hour beyond."""
    if window_s <= 3600:
        return 0
    return 60 if window_s <= 7 * 86400 else 3600


async def _by_label(
    store: MetricStore, name: str, label: str, start: float, end: float
) -> dict[str, list[Point]]:
    """Points of `name` in the window, by the value of one label (series summed per time)."""
    grouped: dict[str, dict[float, float]] = {}
    keys: dict[str, str] = {}  # a week holds ~10,000 points per series but few label sets
    for point in await store.metrics_query(name, resolution_for(end - start), start, end):
        key = keys.get(point.labels)
        if key is None:
            key = keys[point.labels] = str(json.loads(point.labels).get(label, ""))
        series = grouped.setdefault(key, {})
        series[point.time] = series.get(point.time, 0.0) + point.value
    return {key: sorted(series.items()) for key, series in grouped.items()}


async def pool_histories(
    store: MetricStore, capacities: Mapping[str, float], start: float, end: float
) -> list[PoolHistory]:
    """Every pool that exists now, with its history over the window."""
    caps = await _by_label(store, CAPACITY, "pool", start, end)
    held = await _by_label(store, IN_USE, "pool", start, end)
    waited = await _by_label(store, WAITED, "pool", start, end)
    return [
        PoolHistory(name, capacity, held.get(name, []), caps.get(name, []), waited.get(name, []))
        for name, capacity in sorted(capacities.items())
    ]


async def task_profiles(
    store: MetricStore, workflows: WorkflowStore, start: float, end: float
) -> list[TaskProfile]:
    """Per workflow task (foreach instances together): declared cpu/memory and use at p95/peak."""
    cpu: dict[tuple[str, str], list[float]] = {}
    memory: dict[tuple[str, str], float] = {}
    resolution = resolution_for(end - start)
    for name in (TASK_CPU, TASK_MEMORY):
        for point in await store.metrics_query(name, resolution, start, end):
            labels = json.loads(point.labels)
            key = (labels.get("workflow", ""), labels.get("task_id", "").split("[", 1)[0])
            if name == TASK_CPU:
                cpu.setdefault(key, []).append(point.value)
            else:
                memory[key] = max(memory.get(key, 0.0), point.value)
    specs: dict[str, WorkflowSpec | None] = {}
    profiles: list[TaskProfile] = []
    for workflow, task_id in sorted(cpu)[:MAX_TASK_PROFILES]:
        if workflow not in specs:
            version = await workflows.get_workflow(workflow) if workflow else None
            specs[workflow] = None if version is None else WorkflowSpec.model_validate(version.spec)
        declared = _declared(specs[workflow], task_id)
        samples = cpu[(workflow, task_id)]
        profiles.append(
            TaskProfile(
                workflow=workflow,
                task=task_id,
                declared_cpu=declared[CPU] / MILLI if CPU in declared else None,
                declared_memory=declared.get(MEMORY),
                cpu_p95=percentile(samples, 0.95),
                memory_peak=memory.get((workflow, task_id), 0.0),
                samples=len(samples),
            )
        )
    return profiles


def _declared(spec: WorkflowSpec | None, task_id: str) -> dict[str, int]:
    """What a task of the latest version declares (its own `resources:`, else the defaults)."""
    if spec is None:
        return {}
    for task in spec.tasks:
        if task.id == task_id:
            return request_of(task.resources or spec.defaults.resources)
    return {}


async def analytics(
    store: Any, capacities: Mapping[str, float], window_s: float, now: float
) -> dict[str, Any]:
    """Per pool: seconds waited, mean waiting tasks, utilisation; bottlenecks; task profiles."""
    start = now - window_s
    pools = [analyse_pool(p, window_s) for p in await pool_histories(store, capacities, start, now)]
    tasks = await task_profiles(store, store, start, now)
    return {
        "window_s": window_s,
        "resolution_s": resolution_for(window_s),
        "pools": pools,
        "bottlenecks": bottlenecks(pools),
        "tasks": [
            {
                "workflow": t.workflow,
                "task": t.task,
                "declared_cpu": t.declared_cpu,
                "declared_memory": t.declared_memory,
                "cpu_p95": round(t.cpu_p95, 3),
                "memory_peak": t.memory_peak,
                "samples": t.samples,
            }
            for t in tasks
        ],
    }


async def advise(
    store: Any, capacities: Mapping[str, float], window_s: float, now: float
) -> dict[str, Any]:
    """The recommendations of the window, in the caller's language."""
    start = now - window_s
    pools = [analyse_pool(p, window_s) for p in await pool_histories(store, capacities, start, now)]
    tasks = await task_profiles(store, store, start, now)
    return {"window_s": window_s, "items": recommendations(pools, tasks, window_s)}


async def forecast(
    store: MetricStore,
    capacities: Mapping[str, float],
    window_s: float,
    now: float,
    scale: float | None = None,
) -> dict[str, Any]:
    """Per pool: utilisation trend, daily peak, when it saturates, capacity for `scale`× load."""
    histories = await pool_histories(store, capacities, now - window_s, now)
    pools = [
        forecast_pool(h.name, utilisation(h.in_use, h.capacities), now, h.capacity, scale)
        for h in histories
    ]
    return {"window_s": window_s, "pools": pools}
