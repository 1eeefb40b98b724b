"""Interrupted attempts on resume: stop what is left of their processes, say so in the event.

An attempt that was running when its engine died may still have processes alive (a shell's
background jobs, a whole script if the parent-death signal was not available).  Before such a
task is queued again, its recorded process group is stopped — only if `/proc` shows it is
still that very group (`executors.processes`) — so no two attempts of one task ever run at
once (DESIGN §2.7).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from basir.engine.state import RunState, TaskState
from basir.executors.processes import escaped_members, stop_leftovers, stop_processes
from basir.states import TaskStatus

if TYPE_CHECKING:
    from basir.engine.flow import Flow

# Task fields that clear the record of an attempt's process (it is stopped, or not this one's).
FORGET_PROCESS: dict[str, Any] = {"attempt_pgid": None, "attempt_proc_start": None}


async def stop_interrupted(run: RunState) -> set[str]:
    """Stop the leftover process groups of the run's interrupted attempts, and what left those
    groups on purpose (`setsid`, a double-forked daemon: found by the `BASIR_ATTEMPT_ID` it
    started with); the task ids something was stopped for."""
    groups = {
        task.id: (task.attempt_pgid, task.attempt_proc_start, task.attempt_id)
        for task in run.tasks.values()
        if task.status == TaskStatus.RUNNING and task.attempt_pgid is not None
    }
    if not groups:
        return set()
    stopped = await stop_leftovers(groups)
    owners = {
        attempt: (task_id, ticks)
        for task_id, (_pgid, ticks, attempt) in groups.items()
        if attempt and ticks is not None
    }
    since = {attempt: ticks for attempt, (_task_id, ticks) in owners.items()}
    escaped = await asyncio.to_thread(escaped_members, since) if since else {}
    for attempt, stats in escaped.items():
        await stop_processes(stats)
        stopped.add(owners[attempt][0])
    return stopped


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


def requeue_resumed(flow: Flow, run: RunState, stopped: set[str], now: float) -> None:
    """Put a resumed run's tasks back on their way: interrupted attempts queued again (after
    `stop_interrupted`), queued tasks back in the ready queue, retries and timed holds armed
    for what is left of their waits."""
    for task in list(run.tasks.values()):
        if task.status == TaskStatus.RUNNING:
            flow.journal.task_to(
                run,
                task,
                TaskStatus.QUEUED,
                "task.interrupted",
                queued_at=now,
                data=interrupted_data(task, stopped),
                **FORGET_PROCESS,
            )
            flow.push_ready(run, task)
        elif task.status == TaskStatus.QUEUED and not task.instances:
            flow.push_ready(run, task)
        elif task.status == TaskStatus.RETRYING:
            flow.arm_retry(run, task, max(0.0, (task.next_attempt_at or now) - now))
        if task.held and task.hold_until is not None:
            flow.arm_release(run, task, task.hold_until - now)
