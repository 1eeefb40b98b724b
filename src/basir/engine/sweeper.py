"""The cleanup sweeper: finds what an ended task still holds, frees it, and says so.

Every `sweep_interval_s` (60 s by default; 0 turns it off) it looks for the leaks of
`resources.sweep` and fixes each, recording one `resource.leak_fixed` event per fix with
`kind` = `held` (pool amounts without a live attempt, released and the waiting tasks offered
again), `processes` (an ended attempt's group still running, or a process that left it on
purpose — `setsid`, a double-forked daemon — found by the `BASIR_ATTEMPT_ID` it started with;
stopped: SIGTERM, then SIGKILL), `temp_dir` (a dead owner's private directory, removed) or
`cgroup` (the attempt cgroup of an engine that died, removed: `engine.memory_limits`).  The
normal paths already release everything when an attempt ends, is cancelled or times out; the
sweeper is the net for crashes and bugs, so in a healthy engine it finds nothing — except the
daemons a task starts on purpose outside its group, which only it can reach: ended attempts
are looked at again `ENDED_GRACE_S` after they end, not only at the next sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from basir.config import Settings
from basir.engine.flow import Flow
from basir.engine.journal import Journal
from basir.engine.state import RunState, TaskState
from basir.executors.processes import (
    escaped_members,
    group_members,
    stop_leftover,
    stop_processes,
)
from basir.periodic import Periodic
from basir.resources.allocator import Key
from basir.resources.sweep import orphan_dirs, pid_alive, private_dirs, stale_holds
from basir.resources.usage import scan_groups
from basir.states import TaskStatus

log = logging.getLogger(__name__)

MAX_ENDED_GROUPS = 1000
ENDED_GRACE_S = 5.0  # an ended group gets this long to finish exiting before it is a leak
SOON_SLACK_S = 0.5  # the look at ended attempts comes this long after their grace
LEAK_EVENT = "resource.leak_fixed"
# (run, task, pgid, start ticks, attempt id, ended at) of an ended attempt.
Ended = tuple[str, str, int, int | None, str | None, float]


class Sweeper:
    """Finds and fixes leaks of one engine's tasks, periodically or on demand (`sweep`)."""

    def __init__(
        self, flow: Flow, journal: Journal, settings: Settings, temp_root: Path | None = None
    ) -> None:
        self.flow = flow
        self.journal = journal
        self.interval_s = settings.sweep_interval_s
        self.temp_root = temp_root
        self.ended: deque[Ended] = deque(maxlen=MAX_ENDED_GROUPS)  # recently ended attempts
        # Removes dead engines' attempt cgroups, returning their paths (set by the engine).
        self.stale_cgroups: Callable[[], list[str]] | None = None
        self._soon: asyncio.TimerHandle | None = None  # the next look at ended attempts
        self._soon_task: asyncio.Task[None] | None = None
        self._running = False  # between `start` (with an interval) and `stop`
        self._periodic = Periodic(
            self.sweep,
            self.interval_s,
            name="basir-sweeper",
            log=log,
            failure="cleanup sweep failed",
        )
        flow.admission.on_free.append(self.attempt_ended)

    def attempt_ended(self, run: RunState, task: TaskState) -> None:
        """Remember an ended attempt's process group, to check soon that it is gone."""
        if task.attempt_pgid is not None:
            self.ended.append(
                (
                    run.id,
                    task.id,
                    task.attempt_pgid,
                    task.attempt_proc_start,
                    task.attempt_id,
                    time.time(),
                )
            )
            self._check_ended_soon()

    def _check_ended_soon(self) -> None:
        """Look at the ended attempts once their grace is over, not only at the next sweep:
        a daemon a task left behind stops within seconds.  One pending check at a time, so
        however many attempts end, it is one `/proc` pass per `ENDED_GRACE_S` at most."""
        if not self._running or self._soon is not None or self._soon_task is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._soon = loop.call_later(ENDED_GRACE_S + SOON_SLACK_S, self._start_ended_check)

    def _start_ended_check(self) -> None:
        self._soon = None
        self._soon_task = asyncio.create_task(self._ended_check(), name="basir-sweeper-ended")

    async def _ended_check(self) -> None:
        try:
            for item in await self._stop_ended_groups(time.time()):
                self.journal.system_event(LEAK_EVENT, "resources", item)
        except Exception:  # the periodic sweep tries again
            log.exception("cleanup of ended attempts failed")
        finally:
            self._soon_task = None
        if self.ended:
            self._check_ended_soon()  # some ended during this one: their turn next

    async def sweep(self, now: float | None = None) -> list[dict[str, Any]]:
        """One pass: fix every leak found; return what was fixed (as the events say)."""
        now = time.time() if now is None else now
        fixed = self._release_stale_holds()
        fixed += await self._stop_ended_groups(now)
        fixed += await asyncio.to_thread(self._remove_orphan_dirs, now)
        if self.stale_cgroups is not None:
            gone = await asyncio.to_thread(self.stale_cgroups)
            fixed += [{"kind": "cgroup", "path": path} for path in gone]
        for item in fixed:
            self.journal.system_event(LEAK_EVENT, "resources", item)
        return fixed

    def _live(self) -> set[tuple[str, str]]:
        """Attempts alive or about to start (running in memory, launch pending commit)."""
        live = set(self.flow.attempts)
        for run in self.flow.runs.values():
            live.update(
                (run.id, t.id) for t in run.tasks.values() if t.status == TaskStatus.RUNNING
            )
        return live

    def _release_stale_holds(self) -> list[dict[str, Any]]:
        admission = self.flow.admission
        fixed = []
        held: dict[Key, dict[str, int]] = {key: {} for key in admission.governor.holders()}
        held.update(admission.allocator.held)
        for key in stale_holds(held, self._live()):
            pools = dict(held[key])
            admission.allocator.release(key)
            namespace = admission.governor.released(key)  # what it counted against its quota
            quota = {} if namespace is None else {f"quota:{namespace}": 0}
            admission.rewake(self.flow.push_ready, {**pools, **quota})
            fixed.append({"kind": "held", "run_id": key[0], "task_id": key[1], "pools": pools})
        return fixed

    async def _stop_ended_groups(self, now: float) -> list[dict[str, Any]]:
        """Stop the groups of ended attempts that still run processes *of that attempt*.

        A group counts only when a live member carries the attempt's `BASIR_ATTEMPT_ID` in the
        environment it started with: an isolated python worker (a reusable process that serves
        one call after another) never does, and a group a running attempt records now is
        never touched.
        """
        fixed = []
        keep: deque[Ended] = deque(maxlen=MAX_ENDED_GROUPS)
        in_use = {
            task.attempt_pgid for run in self.flow.runs.values() for task in run.tasks.values()
            if task.status == TaskStatus.RUNNING and task.attempt_pgid is not None
        }  # fmt: skip
        due: list[Ended] = []
        while self.ended:
            entry = self.ended.popleft()
            if now - entry[5] < ENDED_GRACE_S:
                keep.append(entry)  # still within its time to exit; looked at next pass
            elif entry[2] not in in_use and entry[3] is not None and entry[4] is not None:
                due.append(entry)
        self.ended = keep
        # One /proc pass for all of them; most ended groups are simply gone.
        alive = await asyncio.to_thread(scan_groups, {entry[2] for entry in due}) if due else {}
        for run_id, task_id, pgid, ticks, attempt_id, _at in due:
            if pgid not in alive or ticks is None:
                continue
            if not await asyncio.to_thread(group_members, pgid, ticks, attempt_id):
                continue
            if await stop_leftover(pgid, ticks, attempt_id):
                fixed.append(
                    {"kind": "processes", "run_id": run_id, "task_id": task_id, "pgid": pgid}
                )
        return fixed + await self._stop_escaped(due)

    async def _stop_escaped(self, due: list[Ended]) -> list[dict[str, Any]]:
        """Stop what left an ended attempt's group (`setsid`, a double-forked daemon): found
        by the `BASIR_ATTEMPT_ID` it started with; one fix per process group it now leads."""
        owners = {entry[4]: entry for entry in due if entry[3] is not None and entry[4]}
        if not owners:
            return []
        since = {attempt: entry[3] for attempt, entry in owners.items() if entry[3] is not None}
        found = await asyncio.to_thread(escaped_members, since)
        fixed = []
        for attempt, stats in sorted(found.items()):
            await stop_processes(stats)
            run_id, task_id = owners[attempt][0], owners[attempt][1]
            fixed += [
                {"kind": "processes", "run_id": run_id, "task_id": task_id, "pgid": pgid}
                for pgid in sorted({stat.pgid for stat in stats})
            ]
        return fixed

    def _remove_orphan_dirs(self, now: float) -> list[dict[str, Any]]:
        root = self.temp_root or Path(tempfile.gettempdir())
        entries = private_dirs(root, now)
        alive = {e.pid for e in entries if pid_alive(e.pid)}
        fixed = []
        for path in orphan_dirs(entries, alive):
            shutil.rmtree(path, ignore_errors=True)
            if not path.exists():
                fixed.append({"kind": "temp_dir", "path": str(path)})
        return fixed

    def start(self) -> None:
        """Sweep every `interval_s` in the background until `stop` (0: never)."""
        self._running = self.interval_s > 0
        self._periodic.start()

    async def stop(self) -> None:
        """Stop sweeping."""
        self._running = False
        if self._soon is not None:
            self._soon.cancel()
            self._soon = None
        task, self._soon_task = self._soon_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._periodic.stop()
