"""Interrupted attempts on resume: stop what is left of their processes, say so in the event.

An attempt that was running when its engine died may still have processes alive (a shell's
background jobs, a whole script if the parent-death signal was not available).  Before such a
task is queued again, its recorded process group is stopped — only if `/proc` shows it is
still that very group (`executors.processes`) — so no two attempts of one task ever run at
once (DESIGN §2.7).
"""

from __future__ import annotations

from typing import Any

from basir.engine.state import RunState, TaskState
from basir.executors.processes import stop_leftovers
from basir.states import TaskStatus

# Task fields that clear the record of an attempt's process (it is stopped, or not this one's).
FORGET_PROCESS: dict[str, Any] = {"attempt_pgid": None, "attempt_proc_start": None}


async def stop_interrupted(run: RunState) -> set[str]:
    """Stop the leftover process groups of the run's interrupted attempts; the task ids stopped."""
    groups = {
        task.id: (task.attempt_pgid, task.attempt_proc_start, task.attempt_id)
        for task in run.tasks.values()
        if task.status == TaskStatus.RUNNING and task.attempt_pgid is not None
    }
    if not groups:
        return set()
    return await stop_leftovers(groups)


def interrupted_data(task: TaskState, stopped: set[str]) -> dict[str, Any]:
    """The `task.interrupted` event data of a task found running at resume."""
    data: dict[str, Any] = {
        "attempt": task.attempts,
        "reason": "interrupted",
        "killed_leftover": task.id in stopped,
    }
    if task.attempt_pgid is not None:
        data["pgid"] = task.attempt_pgid
    return data
