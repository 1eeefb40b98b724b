"""A log line for each lifecycle event a person may look for: runs that start and end, attempts
that fail, retry or are interrupted, deadlines missed, alerts.

Each line carries the event's `run_id`, `task_id`, `attempt` and `workflow` as structured
fields (`basir.logconfig` adds `worker_id`), so the JSON logs of a server can be searched by
id in Loki or `jq` without the event log.  Successful tasks are left out: they are most of the
events and say nothing a run's end does not.  The lines follow the event bus, after commit,
so logging never slows the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from basir.events.bus import EventBus, Subscription
from basir.store.records import EventRecord

log = logging.getLogger("basir.events")

# Event type → log level.
LOGGED = {
    "run.started": logging.INFO,
    "run.succeeded": logging.INFO,
    "run.failed": logging.WARNING,
    "run.cancelled": logging.INFO,
    "task.failed": logging.WARNING,
    "task.retrying": logging.INFO,
    "task.interrupted": logging.WARNING,
    "deadline.missed": logging.WARNING,
    "alert.firing": logging.WARNING,
    "alert.resolved": logging.INFO,
}


# Events only followed to know a task's attempt number: `task.started` names it, the events
# after it (`task.retrying`, `task.failed`) do not.
STARTED = "task.started"
TASK_ENDS = frozenset(
    {"task.succeeded", "task.failed", "task.cancelled", "task.skipped", "task.upstream_failed"}
)
RUN_ENDS = frozenset({"run.succeeded", "run.failed", "run.cancelled"})
FOLLOWED = frozenset(LOGGED) | TASK_ENDS | {STARTED}


class AttemptNumbers:
    """The attempt each running task is on, from `task.started`; forgotten when the task or
    its run ends.  Bounded: a subscription that lagged may have missed those ends, so past
    `MAX_RUNS` runs the oldest are forgotten (their lines then lack `attempt`)."""

    MAX_RUNS = 10_000

    def __init__(self) -> None:
        self._runs: dict[str, dict[str, int]] = {}

    def see(self, event: EventRecord) -> int | None:
        """Note what `event` says of its task's attempt; the attempt it is about, if known."""
        run_id, task_id = event.run_id, event.task_id
        if run_id is None:
            return None
        if task_id is None:
            if event.type in RUN_ENDS:
                self._runs.pop(run_id, None)
            return None
        attempt = event.data.get("attempt")
        if event.type == STARTED and isinstance(attempt, int):
            tasks = self._runs.get(run_id)
            if tasks is None:
                if len(self._runs) >= self.MAX_RUNS:
                    del self._runs[next(iter(self._runs))]
                tasks = self._runs[run_id] = {}
            tasks[task_id] = attempt
            return attempt
        tasks = self._runs.get(run_id, {})
        return tasks.pop(task_id, None) if event.type in TASK_ENDS else tasks.get(task_id)


def log_event(event: EventRecord, attempt: int | None = None) -> None:
    """Write the line of one event (nothing for a type not in `LOGGED`)."""
    level = LOGGED.get(event.type)
    if level is None or not log.isEnabledFor(level):
        return
    extra: dict[str, object] = {"event_type": event.type}
    if event.run_id is not None:
        extra["run_id"] = event.run_id
    if event.task_id is not None:
        extra["task_id"] = event.task_id
    if event.workflow is not None:
        extra["workflow"] = event.workflow
    if attempt is not None:
        extra["attempt"] = attempt
    error = event.data.get("error")
    text = f"{event.type} {event.subject}" + (f": {error}" if error else "")
    log.log(level, "%s", text, extra=extra)


class EventLogger:
    """Follows the bus and logs the events of `LOGGED` while the server runs."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._attempts = AttemptNumbers()

    def start(self) -> None:
        """Begin following the bus (idempotent)."""
        if self._task is not None:
            return
        subscription = self._subscription = self.bus.subscribe(lambda e: e.type in FOLLOWED)
        self._task = asyncio.create_task(self._follow(subscription), name="basir-event-log")

    async def stop(self) -> None:
        """Log what is already queued, then stop."""
        subscription, self._subscription = self._subscription, None
        task, self._task = self._task, None
        if subscription is not None:
            for event in subscription.drain():
                log_event(event, self._attempts.see(event))
            subscription.close()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _follow(self, subscription: Subscription) -> None:
        while True:
            event = await subscription.get()
            log_event(event, self._attempts.see(event))
