"""What every executor gets and gives: a `TaskContext` in, an outputs dict out.

An executor raises `TaskFailure` for a failed attempt; the runtime decides about retries.
Timeouts and cancellation reach an executor as `asyncio.CancelledError`: it must then stop
its work (kill a process group, close a connection) before re-raising.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from basir.executors.memory import MemoryLimit
from basir.i18n.deferred import Lazy

JsonDict = dict[str, Any]
# `on_spawn(pgid, start_ticks)`: records an attempt's process before its body starts.
SpawnHook = Callable[[int, int | None], Awaitable[None]]
DEFAULT_OUTPUT_CAP_BYTES = 10 * 1024 * 1024
DEFAULT_OUTPUTS_CAP_BYTES = 1024 * 1024

# Isolated python calls (`executors.isolation`): how child processes start and how many idle
# ones are kept.  Here, so choosing them does not import multiprocessing for every command.
DEFAULT_START_METHOD = "forkserver"
DEFAULT_MAX_IDLE_PROCESSES = 4


class TaskFailure(Exception):  # noqa: N818 - the name is the public contract
    """A task attempt failed; `message` is shown to the user, `outputs` are kept if any.

    `message` may be a `Lazy` message (`lazy("exited with code {code}", code=3)`): the task's
    error then keeps it, to be shown in each reader's language; `.message` is its text here.

    `detail` is optional supporting text (the last lines of a process's output, a response
    body), shown under the message.  `reason` is `oom` when the attempt ended because it
    reached its memory limit (`executors.memory`); the engine then fails it with that reason.
    """

    def __init__(
        self,
        message: str | Lazy,
        *,
        outputs: JsonDict | None = None,
        exit_code: int | None = None,
        detail: str | None = None,
        reason: str | None = None,
    ):
        text = str(message)
        super().__init__(text)
        self.message = text
        self.lazy = message if isinstance(message, Lazy) else None
        self.outputs = outputs or {}
        self.exit_code = exit_code
        self.detail = detail
        self.reason = reason


@dataclass(slots=True)
class TaskContext:
    """Everything an attempt knows about where and as whom it runs."""

    run_id: str
    task_id: str
    attempt: int
    attempt_id: str
    workflow: str
    workdir: Path
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    # The allow-listed part of the server's environment (`executors.environment`); None
    # means the default allow-list over this process's environment.
    base_env: dict[str, str] | None = None
    output_cap_bytes: int = DEFAULT_OUTPUT_CAP_BYTES
    outputs_cap_bytes: int = DEFAULT_OUTPUTS_CAP_BYTES
    # Awaited by an executor that starts a process, after the start and before the body runs,
    # with its process group and start time (`executors.processes`); the engine stores both.
    on_spawn: SpawnHook | None = None
    # The attempt's memory limit and how it is enforced (None: no `memory` declared).
    memory_limit: MemoryLimit | None = None

    @property
    def limit_name(self) -> str:
        """A name for the attempt's own cgroup: unique per attempt and per engine process."""
        return f"basir-{os.getpid()}-{self.attempt_id or self.run_id + '-' + self.task_id}"

    @property
    def idempotency_key(self) -> str:
        """Stable across attempts of the same task of the same run: lets tasks deduplicate."""
        return f"{self.run_id}/{self.task_id}"

    def basir_env(self) -> dict[str, str]:
        """The `BASIR_*` variables a task process sees."""
        return {
            "BASIR_RUN_ID": self.run_id,
            "BASIR_TASK_ID": self.task_id,
            "BASIR_WORKFLOW": self.workflow,
            "BASIR_ATTEMPT": str(self.attempt),
            "BASIR_ATTEMPT_ID": self.attempt_id,
            "BASIR_IDEMPOTENCY_KEY": self.idempotency_key,
        }


CURRENT_TASK: ContextVar[TaskContext | None] = ContextVar("basir_current_task", default=None)


def current_task() -> TaskContext | None:
    """The attempt a python task's function is running for (its ids, idempotency key), else None.

    Set by the python executor around the call, in-process and in an isolated child alike.
    """
    return CURRENT_TASK.get()


class Executor(Protocol):
    """Runs one kind of task body.  `body` is the task's body with expressions already resolved."""

    kind: str

    async def execute(self, body: JsonDict, ctx: TaskContext) -> JsonDict:
        """Run one attempt; return its outputs or raise `TaskFailure`."""
        ...
