"""The in-memory picture of an active run, rebuilt from the store whenever it is needed.

Only the engine runtime mutates these objects, always together with a persisted change
(`engine.runtime`); everything here is plain data plus small derived lookups.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from basir.spec.models import Task, WorkflowSpec
from basir.states import TASK_TERMINAL, TaskStatus
from basir.store.records import RunRecord, TaskRecord


@dataclass(slots=True, eq=False)
class TaskState:
    """One task (or foreach instance) of an active run."""

    id: str
    spec: Task
    status: TaskStatus
    seq: int
    attempts: int = 0
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    parent: str | None = None
    index: int | None = None
    item: Any = None
    instances: list[str] = field(default_factory=list)
    open_instances: int = 0  # instances of a foreach parent not yet ended
    dependents: list[str] = field(default_factory=list)
    remaining: int = 0  # dependencies not yet ended
    held: bool = False
    hold_until: float | None = None
    next_attempt_at: float | None = None
    attempt_id: str | None = None
    queued_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    stop_reason: str | None = None  # why the runtime cancelled a running attempt
    attempt_pgid: int | None = None  # the latest attempt's process group, once recorded
    attempt_proc_start: int | None = None  # its leader's start time, clock ticks since boot
    waiting: str | None = None  # why a queued task waits for resources (engine.admission)
    queue: str | None = None  # the named queue its latest attempt started in
    throttled_s: float | None = None  # how long that attempt was held back by throttling
    usage: dict[str, Any] | None = None  # what the latest ended attempt used (engine.usage)
    memory_exceeded: str | None = None  # set when the sampler stopped it for its memory
    memory_limit: int | None = None  # grown by `retries.on_oom`; replaces the declared memory
    preemptions: int = 0  # attempts stopped to let a critical task start
    preempted_by: tuple[str, str, str] | None = None  # (run, task, reason) while being stopped
    dynamic: bool = False  # added by PATCH or foreach: its spec is stored with its row

    @property
    def terminal(self) -> bool:
        """True once the task has ended for good (until a run retry)."""
        return self.status in TASK_TERMINAL

    @property
    def needs(self) -> list[str]:
        """Ids this task waits for (an instance inherits its parent's, already met)."""
        return [] if self.parent is not None else self.spec.needs


@dataclass(slots=True, eq=False)
class RunState:
    """An active run: its record, pinned spec, tasks, and the runtime's counters."""

    record: RunRecord
    spec: WorkflowSpec
    tasks: dict[str, TaskState]
    running: int = 0
    unfinished: int = 0
    cancel_requested: bool = False
    parked: deque[str] = field(default_factory=deque)  # queued but held back by the run's limits
    next_seq: int = 0

    @property
    def id(self) -> str:
        """The run id."""
        return self.record.id

    def link(self) -> None:
        """Recompute dependants, unmet-dependency counts and the unfinished count."""
        for task in self.tasks.values():
            task.dependents.clear()
        for task in self.tasks.values():
            for need in task.needs:
                self.tasks[need].dependents.append(task.id)
        for task in self.tasks.values():
            task.remaining = sum(1 for need in task.needs if not self.tasks[need].terminal)
        for task in self.tasks.values():
            task.open_instances = sum(1 for i in task.instances if not self.tasks[i].terminal)
        self.unfinished = sum(1 for task in self.tasks.values() if not task.terminal)
        self.next_seq = max((task.seq for task in self.tasks.values()), default=-1) + 1

    def add(self, task: TaskState) -> None:
        """Insert a new task (PATCH or foreach instance) and wire it up."""
        self.tasks[task.id] = task
        for need in task.needs:
            self.tasks[need].dependents.append(task.id)
        task.remaining = sum(1 for need in task.needs if not self.tasks[need].terminal)
        if not task.terminal:
            self.unfinished += 1
            if task.parent is not None:
                self.tasks[task.parent].open_instances += 1
        self.next_seq = max(self.next_seq, task.seq + 1)


def instance_id(parent_id: str, index: int) -> str:
    """The reported id of the `index`-th foreach instance: `build[3]`."""
    return f"{parent_id}[{index}]"


# TaskState field ← → TaskRecord column, for everything both hold under one meaning.  The one
# table both directions use: `state_from_records` (store → memory) and `task_record` (back).
ROW_FIELDS: tuple[tuple[str, str], ...] = (
    ("attempts", "attempts"),
    ("error", "error"),
    ("parent", "parent_id"),
    ("index", "item_index"),
    ("item", "item"),
    ("held", "held"),
    ("hold_until", "hold_until"),
    ("next_attempt_at", "next_attempt_at"),
    ("attempt_id", "attempt_id"),
    ("queued_at", "queued_at"),
    ("started_at", "started_at"),
    ("finished_at", "finished_at"),
    ("attempt_pgid", "attempt_pgid"),
    ("attempt_proc_start", "attempt_proc_start"),
    ("waiting", "waiting"),
    ("queue", "queue"),
    ("throttled_s", "throttled_s"),
    ("usage", "usage"),
    ("memory_limit", "memory_limit"),
    ("preemptions", "preemptions"),
)


def task_record(run_id: str, task: TaskState) -> TaskRecord:
    """The stored shape of a task as it is in memory now (what task controls return)."""
    columns = {column: getattr(task, name) for name, column in ROW_FIELDS}
    return TaskRecord(
        run_id=run_id,
        task_id=task.id,
        status=task.status,
        outputs=dict(task.outputs),
        **columns,
    )


def state_from_records(run: RunRecord, spec: WorkflowSpec, rows: list[TaskRecord]) -> RunState:
    """Rebuild a run's in-memory state from its stored rows and pinned spec."""
    specs = {task.id: task for task in spec.tasks}
    tasks: dict[str, TaskState] = {}
    for seq, row in enumerate(rows):
        if row.spec is not None:
            task_spec = Task.model_validate(row.spec)
        elif row.parent_id is not None:
            task_spec = specs[row.parent_id].model_copy(update={"foreach": None})
        else:
            task_spec = specs[row.task_id]
        fields = {name: getattr(row, column) for name, column in ROW_FIELDS}
        tasks[row.task_id] = TaskState(
            id=row.task_id,
            spec=task_spec,
            status=TaskStatus(row.status),
            seq=seq,
            outputs=dict(row.outputs),
            dynamic=row.spec is not None,
            **fields,
        )
    for task in tasks.values():
        if task.parent is not None:
            tasks[task.parent].instances.append(task.id)
    state = RunState(record=run, spec=spec, tasks=tasks)
    state.link()
    return state


def initial_rows(run: RunRecord, spec: WorkflowSpec, now: float) -> list[TaskRecord]:
    """The pending task rows of a new run."""
    return [
        TaskRecord(run_id=run.id, task_id=task.id, status=TaskStatus.PENDING, updated_at=now)
        for task in spec.tasks
    ]
