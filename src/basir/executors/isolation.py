"""Isolated python tasks: each call runs in a child process that only it uses at that moment.

A shared `ProcessPoolExecutor` fails *every* call in flight when one of its processes dies,
so one crashing task would fail its neighbours.  Instead each worker here is a one-process
pool: a crash (`os._exit`, a segfault, the OOM killer) breaks only the call it was running,
and cancelling a call can SIGKILL exactly the process running it.  Healthy workers are kept
(up to `max_idle`) so later calls skip the process start and reuse warm imports.

Processes come from the `forkserver` start method: a clean, single-threaded server forks
them, which is fast and safe in a threaded parent (unlike plain `fork`).  As in any
multiprocessing program, the main script is imported by that server, so it must not start
work on import (an `if __name__ == "__main__":` guard; the `basir` command has one).

Each child leads its own session, so its pid is the process group the engine records before
a call is sent (`TaskContext.on_spawn`), and it dies with the fork server, hence with the
engine (parent-death signal, `executors.processes.die_with_parent`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from multiprocessing.context import BaseContext

from basir.executors.base import (
    DEFAULT_MAX_IDLE_PROCESSES,
    DEFAULT_START_METHOD,
    TaskContext,
    TaskFailure,
)
from basir.executors.child import ChildResult, call_in_child, child_start
from basir.executors.memory import AttemptMemory, address_space_bytes
from basir.executors.processes import read_stat, start_ticks
from basir.i18n.deferred import lazy

PROCESS_START_TIMEOUT_S = 60.0


class _Worker:
    """One child process behind a one-process pool, with its pid known for killing."""

    def __init__(self, pool: ProcessPoolExecutor, pid: int) -> None:
        self.pool = pool
        self.pid = pid  # also its process group: the child leads its own session
        self.start_ticks = start_ticks(pid)

    @classmethod
    def start(cls, context: BaseContext) -> _Worker:
        """Start the process and learn its pid (blocking: call from a thread)."""
        pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
        try:
            pid = pool.submit(child_start).result(timeout=PROCESS_START_TIMEOUT_S)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        return cls(pool, pid)

    def kill(self) -> None:
        """SIGKILL the process (with its group) and let the pool wind down in the background."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(self.pid, signal.SIGKILL)
        self.pool.shutdown(wait=False, cancel_futures=True)

    def is_alive(self) -> bool:
        """Whether the process still runs.  A process that died is a zombie until the fork
        server reaps it, and `kill(pid, 0)` still finds it then: `/proc` says which it is, so
        a dead idle process is never handed the next call (and that call never blamed)."""
        stat = read_stat(self.pid)
        if stat is not None:
            return stat.state not in ("Z", "X")
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def retire(self) -> None:
        """Let an idle process exit on its own (or forget a dead one)."""
        self.pool.shutdown(wait=False, cancel_futures=True)


class ProcessRunner:
    """Runs `module:function` calls in child processes; see the module docstring."""

    def __init__(
        self,
        threads: ThreadPoolExecutor,
        *,
        max_idle: int = DEFAULT_MAX_IDLE_PROCESSES,
        start_method: str = DEFAULT_START_METHOD,
    ) -> None:
        self._threads = threads
        self._max_idle = max_idle
        self._start_method = start_method
        self._context: BaseContext | None = None
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._closed = False

    async def run(self, ref: str, args: object, ctx: TaskContext) -> ChildResult:
        """Call `ref(args)` in a child; raise TaskFailure when the child dies on the way.

        The child's process group and start time go to `ctx.on_spawn` before the call is sent.
        With a hard memory limit (`ctx.memory_limit`) the process is limited before the call;
        after it, it is reused only if its address-space limit could be given back (it is set
        as the soft limit for that; a cgroup is never left), else it is stopped.  A
        process the kernel killed for that limit fails the call with reason `oom`.
        """
        memory = AttemptMemory(ctx.memory_limit, ctx.limit_name)
        worker, future = await self._send(ref, args, ctx, memory)
        self._busy.add(worker)
        outcome = "cancelled"
        try:
            result = await asyncio.wrap_future(future)
            outcome = "ok"
            return result
        except BrokenProcessPool:
            outcome = "crashed"
            if memory.out_of_memory(None):
                message = lazy("the task's process was killed for its memory")
                raise TaskFailure(message, reason="oom") from None
            raise TaskFailure(lazy("the task's process crashed")) from None
        finally:
            self._busy.discard(worker)
            if outcome == "ok" and memory.restore(worker.pid):
                self._release(worker)
            elif outcome == "crashed":
                worker.retire()  # already dead: its pid may belong to someone else by now
            else:
                # Cancelled, timed out or limited: whatever the child still runs must stop now.
                worker.kill()
            if memory.cgroup is not None:
                await asyncio.to_thread(memory.close)

    async def _send(
        self, ref: str, args: object, ctx: TaskContext, memory: AttemptMemory
    ) -> tuple[_Worker, concurrent.futures.Future[ChildResult]]:
        """Pick a process, record it through `ctx.on_spawn`, limit it, then send it the call."""
        while True:
            worker, fresh = await self._acquire()
            try:
                if ctx.on_spawn is not None:
                    await ctx.on_spawn(worker.pid, worker.start_ticks)
                self._limit(worker, memory)
                # The hook holds the engine: it stays on this side (and cannot be pickled).
                call = replace(ctx, on_spawn=None)
                return worker, worker.pool.submit(call_in_child, ref, args, call)
            except BrokenProcessPool:
                worker.retire()
                memory.close()  # its process is gone: a new one gets a new cgroup
                if fresh:
                    raise TaskFailure(lazy("the task's process crashed")) from None
                # An idle process that died since its last call must not be blamed on this task.
            except BaseException:
                if not memory.hard:
                    self._release(worker)  # the call never reached it: still a healthy process
                    raise
                worker.kill()  # it may carry a limit meant for this call only
                await asyncio.to_thread(memory.close)
                raise

    @staticmethod
    def _limit(worker: _Worker, memory: AttemptMemory) -> None:
        """Set the call's memory limit on the process; fail the call when that is impossible.

        An address-space limit counts on top of what the warm process already maps (its
        interpreter and imports), which the call did not ask for; it is the soft limit only,
        so the process can be reused after the call (a task that raises its own soft limit
        on purpose is left to the sampler).
        """
        try:
            headroom = address_space_bytes(worker.pid)
            memory.apply(worker.pid, headroom_bytes=headroom, soft_only=True)
        except OSError as exc:
            error = exc.strerror or str(exc)
            raise TaskFailure(lazy("cannot set the memory limit: {error}", error=error)) from exc

    async def _acquire(self) -> tuple[_Worker, bool]:
        """A live idle process, or a new one (then True)."""
        while self._idle:
            worker = self._idle.pop()
            if worker.is_alive():
                return worker, False
            worker.retire()
        return await self._start_worker(), True

    async def _start_worker(self) -> _Worker:
        if self._closed:
            raise TaskFailure(lazy("the python executor is closed"))
        if self._context is None:
            self._context = multiprocessing.get_context(self._start_method)
        pending = self._threads.submit(_Worker.start, self._context)
        try:
            return await asyncio.wrap_future(pending)
        except asyncio.CancelledError:
            pending.add_done_callback(_kill_when_started)
            raise
        except (OSError, RuntimeError, concurrent.futures.TimeoutError) as exc:
            # RuntimeError: e.g. a main module that starts work on import (no __main__ guard).
            raise TaskFailure(
                lazy("cannot start a process for the task: {error}", error=str(exc))
            ) from exc

    def _release(self, worker: _Worker) -> None:
        if self._closed or len(self._idle) >= self._max_idle:
            worker.retire()
        else:
            self._idle.append(worker)

    def close(self) -> None:
        """Kill the busy child processes and let the idle ones exit."""
        self._closed = True
        for worker in self._idle:
            worker.retire()
        for worker in self._busy:
            worker.kill()
        self._idle.clear()
        self._busy.clear()


def _kill_when_started(pending: concurrent.futures.Future[_Worker]) -> None:
    if not pending.cancelled() and pending.exception() is None:
        pending.result().kill()
