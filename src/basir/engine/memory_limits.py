"""Which memory limit each attempt gets, and what follows when a task is stopped for memory.

The mode is chosen once per engine from `BASIR_MEMORY_LIMIT` (`executors.memory.resolve_mode`):
`auto` takes a delegated cgroup v2 directory when there is one, else `RLIMIT_AS`; `cgroup` or
`rlimit` asked for where impossible stops the start (`config.memory_limit_unavailable`) instead
of running tasks unlimited.  An attempt's limit is the memory it holds (its declared `memory`,
or the grown limit of a retry, `retries.on_oom`); `resources.memory_limit: sampler` on a task
leaves it to the usage sampler alone (for runtimes that reserve address space up front).

However a task is stopped for memory — by the kernel at its cgroup or address-space limit, or
by the sampler — `stopped` records the same `resource.memory_exceeded` event (`reason: oom`)
and grows the next attempt's limit when its retry policy says `on_oom`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from basir.config import Settings
from basir.engine.journal import Journal
from basir.engine.state import RunState, TaskState
from basir.errors import BasirError
from basir.executors.memory import (
    AttemptMemory,
    MemoryLimit,
    Mode,
    cgroup_root,
    resolve_mode,
    rlimit_available,
)
from basir.i18n import _
from basir.i18n.deferred import Lazy, lazy
from basir.resources.fitting import MEMORY, show_amount
from basir.resources.usage import grown_limit

if TYPE_CHECKING:
    from basir.engine.flow import Flow

ENFORCED_BY = {"rlimit": "RLIMIT_AS", "sampler": "sampler"}


def engine_mode(setting: str) -> tuple[Mode, Path | None]:
    """The mode of `BASIR_MEMORY_LIMIT=setting` here; `config.memory_limit_unavailable` else."""
    root = cgroup_root() if setting in ("auto", "cgroup") else None
    try:
        return resolve_mode(setting, root, rlimit=rlimit_available())
    except ValueError as exc:
        raise BasirError(
            "config.memory_limit_unavailable",
            _("memory limit mode {mode} is not possible here: {why}", mode=setting, why=exc),
        ) from exc


class MemoryLimits:
    """The engine's memory-limit mode; an attempt's limit; the consequences of a stop."""

    def __init__(self, settings: Settings, flow: Flow, journal: Journal) -> None:
        self.flow = flow
        self.journal = journal
        self.mode, root = engine_mode(settings.memory_limit)
        self.cgroup_root = str(root) if root is not None else None

    def sweep(self) -> list[str]:
        """Remove the attempt cgroups left by engines that died (blocking: off the loop)."""
        if self.cgroup_root is None:
            return []
        tree = AttemptMemory.tree_at(Path(self.cgroup_root))
        return [str(path) for path in tree.sweep(os.getpid())]

    def for_attempt(self, run: RunState, task: TaskState) -> MemoryLimit | None:
        """The limit of the attempt starting now: what it holds of `memory`, enforced how."""
        limit = self.flow.admission.allocator.held.get((run.id, task.id), {}).get(MEMORY)
        if not limit:
            return None
        resources = self.flow.admission.resources_of(run, task)
        mode: Mode = self.mode
        if resources is not None and resources.memory_limit == "sampler":
            mode = "sampler"
        return MemoryLimit(limit, mode, self.cgroup_root if mode == "cgroup" else None)

    def stopped(
        self,
        run: RunState,
        task: TaskState,
        limit: int,
        used: int | None,
        enforced_by: Mode,
    ) -> None:
        """Record a stop for memory (`resource.memory_exceeded`); grow the retry's limit."""
        data: dict[str, Any] = {"reason": "oom", "limit_bytes": limit, "enforced_by": enforced_by}
        if used is not None:
            data["memory_bytes"] = used
        policy = task.spec.retries or run.spec.defaults.retries
        if policy is not None and policy.on_oom is not None:
            capacity = self.flow.admission.allocator.capacity.get(MEMORY, limit)
            grown = grown_limit(limit, policy.on_oom.grow, policy.on_oom.max, capacity)
            self.journal.task_row(run, task, memory_limit=grown)
            data["next_limit_bytes"] = grown
        self.journal.event("resource.memory_exceeded", run, task, data)

    @staticmethod
    def message(limit: MemoryLimit) -> Lazy:
        """The error of an attempt the kernel stopped at its limit."""
        if limit.cgroup_root is not None:  # the file that held it: `memory.max` or v1's
            how = f"cgroup {AttemptMemory.tree_at(Path(limit.cgroup_root)).LIMIT_FILE}"
        else:
            how = ENFORCED_BY[limit.mode]
        return lazy(
            "stopped: out of memory at its limit of {limit} ({how}) (oom)",
            limit=show_amount(MEMORY, limit.limit_bytes),
            how=how,
        )
