"""The usage sampler: what each running attempt uses, its memory limit enforced, kept as history.

Every `usage_interval_s` (1 s by default; 0 turns it off) one pass over `/proc`, in a worker
thread so the event loop never blocks (`resources.usage.scan_groups`), measures the process
group of every running attempt: cpu (cores, from the growth of its cpu time) and resident
memory.  What follows is applied here:

- **Memory is enforced.** A task whose group holds more resident memory than its declared
  `memory` is stopped at once (SIGKILL to the whole group, after checking the group is still
  that attempt's), a `resource.memory_exceeded` event is recorded with `reason: oom`, and the
  attempt fails with its own error ("used 600Mi, more than its memory limit of 512Mi") instead
  of a bare signal; retries apply as for any failure (`engine.memory_limits`).  This is the
  backstop: the kernel limits each attempt too (cgroup v2 `memory.max` or `RLIMIT_AS`,
  `executors.memory`) unless `BASIR_MEMORY_LIMIT=sampler` or the task's
  `resources.memory_limit: sampler`; alone, the sampler checks once per interval, so a task
  may overshoot its limit briefly between two samples.
- **History.** Every `metrics_interval_s` the momentary values of every sampled task are
  written in one store batch as `basir_task_cpu_cores` and `basir_task_memory_bytes` (labels
  `run_id`, `task_id`, `workflow`), raw and per minute, at most `MAX_TASK_SERIES` tasks a
  pass, pruned like the rest of the metric history (raw after an hour, per minute after a
  week).
- **Per task.** `live(run_id)` gives what each running task of a run uses now; when an attempt
  ends its peaks and totals go into its task row (`tasks.usage`), in the same commit as its end.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import signal
import time
from typing import Any

from basir.config import Settings
from basir.engine.flow import Flow
from basir.engine.journal import Journal
from basir.engine.memory_limits import MemoryLimits
from basir.engine.state import RunState, TaskState
from basir.executors.processes import is_leftover, signal_group
from basir.i18n.deferred import defer
from basir.periodic import Periodic
from basir.resources.fitting import MEMORY, show_amount
from basir.resources.usage import (
    TaskUsage,
    advance,
    over_limit,
    scan_groups,
    summary,
)
from basir.states import TaskStatus
from basir.store.base import MetricStore
from basir.store.records import MetricPoint

log = logging.getLogger(__name__)

Key = tuple[str, str]
MAX_TASK_SERIES = 1000
MINUTE_S = 60
# How long each resolution of the per-task series is kept (as the rest of the history).
RETENTION_S = {0: 3600.0, MINUTE_S: 7 * 86400.0}
PRUNE_EVERY_S = 60.0
CPU_SERIES = "basir_task_cpu_cores"
MEMORY_SERIES = "basir_task_memory_bytes"


class UsageWatch:
    """Samples the process groups of an engine's running attempts; one loop for all of them."""

    def __init__(
        self,
        flow: Flow,
        journal: Journal,
        store: MetricStore,
        settings: Settings,
        limits: MemoryLimits,
    ) -> None:
        self.flow = flow
        self.journal = journal
        self.store = store
        self.limits = limits
        self.interval_s = settings.usage_interval_s
        self.history_every_s = settings.metrics_interval_s
        self.tasks: dict[Key, TaskUsage] = {}
        self.stopped_for_memory = 0  # attempts stopped for their memory since start
        self._last_history = -math.inf
        self._ended: list[tuple[str, str, str, TaskUsage, float]] = []  # not yet in the history
        self._last_prune = -math.inf
        self._periodic = Periodic(
            self.sample, self.interval_s, name="basir-usage", log=log, failure="usage sample failed"
        )
        flow.admission.on_free.append(self.finish)

    def running(self) -> list[tuple[RunState, TaskState]]:
        """The attempts alive now whose process group is recorded."""
        found: list[tuple[RunState, TaskState]] = []
        for run_id, task_id in list(self.flow.attempts):
            run = self.flow.runs.get(run_id)
            if run is None:
                continue
            task = run.tasks.get(task_id)
            if task is not None and task.attempt_pgid is not None:
                found.append((run, task))
        return found

    async def sample(self, now: float | None = None) -> int:
        """Measure every running attempt once (off the loop); enforce limits; return how many."""
        running = self.running()
        pgids = {task.attempt_pgid for _run, task in running if task.attempt_pgid is not None}
        now = time.time() if now is None else now
        history_due = self.history_every_s > 0 and now - self._last_history >= self.history_every_s
        groups = await asyncio.to_thread(scan_groups, pgids, with_io=history_due) if pgids else {}
        live = self.flow.attempts
        for gone in [key for key in self.tasks if key not in live]:
            del self.tasks[gone]  # ended without `finish` (an engine fault): never shown again
        seen = 0
        for run, task in running:
            pgid = task.attempt_pgid
            group = groups.get(pgid) if pgid is not None else None
            key = (run.id, task.id)
            if group is None or pgid is None or key not in live or task.attempt_pgid != pgid:
                continue  # ended (or a new attempt began) while the scan ran
            usage = self.tasks.get(key)
            if usage is None or usage.pgid != pgid:
                usage = self.tasks[key] = TaskUsage(pgid=pgid, started=now)
            advance(usage, group, now)
            seen += 1
            limit = self.flow.admission.allocator.held.get(key, {}).get(MEMORY)
            if over_limit(usage.rss_bytes, limit) and task.memory_exceeded is None:
                assert limit is not None
                self._stop_for_memory(run, task, usage, limit)
        if history_due:
            self._last_history = now
            await self._write_history(now)
        return seen

    def _stop_for_memory(
        self, run: RunState, task: TaskState, usage: TaskUsage, limit: int
    ) -> None:
        """Kill the attempt's whole group now; its failure then names memory as the reason."""
        pgid = usage.pgid
        if not is_leftover(pgid, task.attempt_proc_start, task.attempt_id):
            return  # the group is no longer that attempt's: never signal a stranger
        task.memory_exceeded = defer(
            "stopped: used {used} of memory, more than its limit of {limit} (oom)",
            used=show_amount(MEMORY, usage.rss_bytes),
            limit=show_amount(MEMORY, limit),
        )
        signal_group(pgid, signal.SIGKILL)
        self.stopped_for_memory += 1
        self.limits.stopped(run, task, limit, usage.rss_bytes, "sampler")

    def peak_rss(self, run: RunState, task: TaskState) -> int | None:
        """The largest resident memory sampled of the task's running attempt, if any."""
        usage = self.tasks.get((run.id, task.id))
        return usage.peak_rss_bytes if usage is not None and usage.samples else None

    def finish(self, run: RunState, task: TaskState) -> None:
        """An attempt ended: keep its peaks and totals in its row, forget its live figures."""
        usage = self.tasks.pop((run.id, task.id), None)
        if usage is not None and usage.samples and task.status == TaskStatus.RUNNING:
            self.journal.task_row(run, task, usage=summary(usage))
            if self.history_every_s > 0 and len(self._ended) < MAX_TASK_SERIES:
                # Its peaks join the next history write, so a short task is in it too.
                self._ended.append((run.id, task.id, run.record.workflow, usage, time.time()))

    def live(self, run_id: str) -> dict[str, dict[str, float | int]]:
        """What each running task of `run_id` uses now, by task id (sampled ones only)."""
        return {
            task_id: usage.view()
            for (owner, task_id), usage in self.tasks.items()
            if owner == run_id and usage.samples
        }

    def used(self) -> dict[str, float]:
        """Measured use of the machine's pools by running tasks: cpu in cores, memory in bytes."""
        return {
            "cpu": round(sum(u.cpu_cores for u in self.tasks.values()), 3),
            "memory": float(sum(u.rss_bytes for u in self.tasks.values())),
        }

    def annotate(self, status: dict[str, Any]) -> dict[str, Any]:
        """`resources_status` with the measured use of cpu and memory (`used`) beside each."""
        used = self.used()
        for pool in status["pools"]:
            if pool["name"] in used:
                pool["used"] = used[pool["name"]]
        return status

    async def _write_history(self, now: float) -> None:
        """The momentary values of up to `MAX_TASK_SERIES` tasks, raw and per minute, one batch."""
        points: list[MetricPoint] = []
        ended, self._ended = self._ended, []
        for run_id, task_id, workflow, usage, at in ended:  # their peaks, when they ended
            labels = _labels(run_id, task_id, workflow)
            points += _points(labels, usage.peak_cpu_cores, usage.peak_rss_bytes, at)
        for (run_id, task_id), usage in list(self.tasks.items())[:MAX_TASK_SERIES]:
            run = self.flow.runs.get(run_id)
            labels = _labels(run_id, task_id, run.record.workflow if run is not None else "")
            points += _points(labels, usage.cpu_cores, usage.rss_bytes, now)
        if points:
            await self.store.metrics_write(points)
        if now - self._last_prune >= PRUNE_EVERY_S:
            self._last_prune = now
            await self.store.metrics_prune({res: now - kept for res, kept in RETENTION_S.items()})

    def start(self) -> None:
        """Sample every `interval_s` in the background until `stop` (0: never)."""
        self._periodic.start()

    async def stop(self) -> None:
        """Stop sampling."""
        await self._periodic.stop()


def _labels(run_id: str, task_id: str, workflow: str) -> str:
    """The canonical labels JSON of a task's series."""
    labels = {"run_id": run_id, "task_id": task_id, "workflow": workflow}
    return json.dumps(labels, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _points(labels: str, cpu_cores: float, memory_bytes: int, at: float) -> list[MetricPoint]:
    """A task's cpu and memory at `at`: raw and in its minute's rollup."""
    minute = float(math.floor(at / MINUTE_S) * MINUTE_S)
    points = []
    for name, value in ((CPU_SERIES, float(cpu_cores)), (MEMORY_SERIES, float(memory_bytes))):
        points.append(MetricPoint(name, labels, 0, round(at, 3), value))
        points.append(MetricPoint(name, labels, MINUTE_S, minute, value))
    return points
