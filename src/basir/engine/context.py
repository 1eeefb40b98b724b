"""What `${{ }}` expressions of a task can see: params, tasks, run, env, item/index."""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Iterator, Mapping
from typing import Any

from basir.engine.report import logical_time
from basir.engine.state import RunState, TaskState
from basir.executors.environment import inherited_env


class TasksView(Mapping[str, Any]):
    """`tasks.<id>.status / .outputs`, built lazily so a 10,000-task run costs nothing extra."""

    __slots__ = ("_run",)

    def __init__(self, run: RunState) -> None:
        self._run = run

    def __getitem__(self, task_id: str) -> dict[str, Any]:
        task = self._run.tasks[task_id]
        return {"status": str(task.status), "outputs": task.outputs}

    def __iter__(self) -> Iterator[str]:
        return iter(self._run.tasks)

    def __len__(self) -> int:
        return len(self._run.tasks)


def task_env(run: RunState, task: TaskState) -> dict[str, str]:
    """Workflow env, then `defaults.env`, then the task's own env (later wins)."""
    env = dict(run.spec.env)
    env.update(run.spec.defaults.env)
    env.update(task.spec.env)
    return env


def expression_context(
    run: RunState, task: TaskState | None = None, process_env: dict[str, str] | None = None
) -> dict[str, Any]:
    """The names an expression of `task` (or of the run, when None) may use.

    `env` is the task's own variables over `process_env`: the allow-listed part of the
    server's environment a task may see (`executors.environment`), taken once by the caller
    so no expression pays for copying it; None takes it now.
    """
    own = task_env(run, task) if task is not None else dict(run.spec.env)
    env: Mapping[str, str] = ChainMap(
        own, process_env if process_env is not None else inherited_env()
    )
    context: dict[str, Any] = {
        "params": run.record.params,
        "tasks": TasksView(run),
        "run": {
            "id": run.record.id,
            "workflow": run.record.workflow,
            "version": run.record.version,
            "priority": run.record.priority,
            "trigger": run.record.trigger,
            "logical_time": logical_time(run.record),
        },
        "env": env,
        "secrets": {},
        "signals": {},
    }
    if task is not None and task.parent is not None:
        context["item"] = task.item
        context["index"] = task.index
    return context
