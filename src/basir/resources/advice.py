"""Recommendations in plain words (English and Arabic) from pool and task analyses.

Pure: each rule reads the figures of `resources.planning` and returns at most one
recommendation, a dict with a stable `kind`, the numbers it rests on and a localised
`message`, e.g. "raise pool gradle from 2 to 3: tasks waited 41 min for it in the last 24h".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from basir.i18n import _
from basir.i18n.labels import pool_label
from basir.resources.fitting import CPU, DISK, MEMORY, show_amount
from basir.resources.planning import TaskProfile

MIN_WAIT_S = 60.0  # less waiting than this in a window is not worth a change
IDLE_PEAK = 0.25  # a custom pool never more than this full is mostly idle
MIN_SAMPLES = 3
MEBI = 1 << 20

Advice = dict[str, Any]


def show_window(seconds: float) -> str:
    """A window as people write it: `24h`, `7d`, `90m` (a day or two in hours)."""
    if seconds > 2 * 86400 and seconds % 86400 == 0:
        return f"{int(seconds // 86400)}d"
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    return f"{max(1, round(seconds / 60))}m"


def _cores(value: float) -> str:
    return f"{value:g}"


def pool_advice(pool: Mapping[str, Any], window_s: float) -> Advice | None:
    """Raise a pool tasks waited for; shrink a custom pool that stays mostly idle (never cpu,
    memory or disk: what the machine has, in cores and bytes, not slots someone chose)."""
    name, capacity = str(pool["pool"]), float(pool["capacity"])
    waited = float(pool["waited_s"])
    window = show_window(window_s)
    if waited >= MIN_WAIT_S:
        minutes = max(1, round(waited / 60))
        advice: Advice = {"kind": "raise_pool", "pool": name, "current": capacity}
        if name == MEMORY:
            advice["message"] = _(
                "raise pool memory or lower what tasks declare: tasks waited {minutes} min for"
                " it in the last {window}",
                minutes=minutes,
                window=window,
            )
            return advice
        if name == DISK:  # a size, the free space of a file system: no slot count to add
            advice["message"] = _(
                "free space for pool disk or lower what tasks declare: tasks waited {minutes}"
                " min for it in the last {window}",
                minutes=minutes,
                window=window,
            )
            return advice
        step = max(1, math.ceil(float(pool["mean_waiting"])))
        suggested = capacity + step
        advice["suggested"] = suggested
        advice["message"] = _(
            "raise pool {pool} from {current} to {suggested}: tasks waited {minutes} min for it"
            " in the last {window}",
            pool=pool_label(name),
            current=_cores(capacity),
            suggested=_cores(suggested),
            minutes=minutes,
            window=window,
        )
        return advice
    peak = float(pool["utilisation_peak"])
    if (
        name not in {CPU, MEMORY, DISK}  # the machine's own: nothing is gained by less
        and int(pool["samples"]) >= MIN_SAMPLES
        and capacity > 1
        and peak < IDLE_PEAK
    ):
        suggested = max(1, math.ceil(capacity * peak))
        return {
            "kind": "lower_pool",
            "pool": name,
            "current": capacity,
            "suggested": suggested,
            "message": _(
                "pool {pool} is mostly idle (at most {percent}% of {current} in use in the last"
                " {window}): {suggested} would do",
                pool=name,
                percent=round(peak * 100),
                current=_cores(capacity),
                window=window,
                suggested=suggested,
            ),
        }
    return None


def _round_up(value: float, step: float) -> float:
    return round(math.ceil(value / step - 1e-9) * step, 6)


def cpu_advice(task: TaskProfile) -> Advice | None:
    """A task that declares far more cpu than it uses at p95, or far less."""
    declared = task.declared_cpu
    if declared is None or task.samples < MIN_SAMPLES:
        return None
    who = f"{task.workflow}/{task.task}"
    used = round(task.cpu_p95, 2)
    if task.cpu_p95 < declared / 2:
        suggested = max(0.1, _round_up(task.cpu_p95 * 1.25, 0.1))
        message = _(
            "{task} declares {declared} cpu but used {used} at p95: declare {suggested}",
            task=who,
            declared=_cores(declared),
            used=used,
            suggested=_cores(suggested),
        )
        kind = "lower_request"
    elif task.cpu_p95 > declared * 1.5:
        suggested = _round_up(task.cpu_p95, 0.5)
        message = _(
            "{task} declares {declared} cpu but used {used} at p95: declare {suggested} so"
            " admission counts what it takes",
            task=who,
            declared=_cores(declared),
            used=used,
            suggested=_cores(suggested),
        )
        kind = "raise_request"
    else:
        return None
    return {
        "kind": kind,
        "resource": CPU,
        "workflow": task.workflow,
        "task": task.task,
        "current": declared,
        "suggested": suggested,
        "message": message,
    }


def memory_advice(task: TaskProfile) -> Advice | None:
    """A task that uses a small part of its declared memory, or nearly all of it."""
    declared = task.declared_memory
    if declared is None or task.samples < MIN_SAMPLES or task.memory_peak <= 0:
        return None
    who = f"{task.workflow}/{task.task}"
    used = show_amount(MEMORY, int(task.memory_peak))
    if task.memory_peak < declared / 4:
        suggested = int(_round_up(task.memory_peak * 1.5 / MEBI, 64)) * MEBI
        message = _(
            "{task} declares {declared} of memory but used at most {used}: declare {suggested}",
            task=who,
            declared=show_amount(MEMORY, declared),
            used=used,
            suggested=show_amount(MEMORY, suggested),
        )
        kind = "lower_request"
    elif task.memory_peak > declared * 0.9:
        suggested = int(_round_up(task.memory_peak * 1.5 / MEBI, 64)) * MEBI
        message = _(
            "{task} used {used} of its {declared} memory limit: raise it to {suggested} before"
            " it is stopped for memory",
            task=who,
            declared=show_amount(MEMORY, declared),
            used=used,
            suggested=show_amount(MEMORY, suggested),
        )
        kind = "raise_request"
    else:
        return None
    return {
        "kind": kind,
        "resource": MEMORY,
        "workflow": task.workflow,
        "task": task.task,
        "current": declared,
        "suggested": suggested,
        "message": message,
    }


def recommendations(
    pools: Sequence[Mapping[str, Any]], tasks: Sequence[TaskProfile], window_s: float
) -> list[Advice]:
    """Every recommendation: pools tasks waited for (longest wait first), idle pools, then
    tasks whose declared cpu or memory is far from what they use."""
    found: list[Advice] = []
    ordered = sorted(pools, key=lambda p: (-float(p["waited_s"]), str(p["pool"])))
    for pool in ordered:
        advice = pool_advice(pool, window_s)
        if advice is not None:
            found.append(advice)
    for task in sorted(tasks, key=lambda t: (t.workflow, t.task)):
        for rule in (cpu_advice, memory_advice):
            advice = rule(task)
            if advice is not None:
                found.append(advice)
    return found
