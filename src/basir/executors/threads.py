"""A thread pool for blocking task bodies that hands results back to the event loop in batches.

`loop.run_in_executor(ThreadPoolExecutor)` costs, for every call, a `concurrent.futures`
future with its condition lock, an asyncio future chained to it, a semaphore round trip to
find an idle thread, and one `call_soon_threadsafe` wake-up of the loop per result.  When
hundreds of sleeping tasks finish together (benchmark W3), those lock hand-offs and wake-ups
convoy on the GIL and hold the loop up for tens of milliseconds.

Here a call is one queue item and one asyncio future.  A finished call appends its result to
its loop's inbox and wakes the loop only when no wake-up is on its way already: one wake-up
delivers every result that is ready by then.  Threads start lazily, up to `max_threads`, and
an idle one is reused before a new one starts (as `ThreadPoolExecutor` does).

Threads are daemons: a call still running at shutdown is abandoned, not waited for (the
engine has already re-queued its task by then, and Python cannot interrupt a thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_Result = tuple["asyncio.Future[Any]", bool, Any]


class _Inbox:
    """Results waiting for one event loop, and whether a wake-up is already on its way."""

    __slots__ = ("loop", "results", "wake_pending")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.results: deque[_Result] = deque()
        self.wake_pending = False

    def put(self, future: asyncio.Future[Any], ok: bool, value: Any) -> None:
        """From a worker thread: leave a result and make sure the loop will collect it."""
        self.results.append((future, ok, value))
        if not self.wake_pending:
            self.wake_pending = True
            # RuntimeError: the loop is closed; nobody waits for this result any more.
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self.deliver)

    def deliver(self) -> None:
        """On the loop: resolve the futures of every result left so far.

        The flag is lowered before the queue is read, so a result added during delivery is
        either delivered now or brings its own wake-up.
        """
        self.wake_pending = False
        results = self.results
        while results:
            future, ok, value = results.popleft()
            if future.done():  # its awaiter was cancelled; the result is dropped
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)


_Job = tuple[Callable[[], Any], "asyncio.Future[Any]", _Inbox]


class ThreadRunner:
    """Runs blocking calls on up to `max_threads` threads; see the module docstring."""

    def __init__(self, max_threads: int, name: str = "basir-thread") -> None:
        if max_threads < 1:
            raise ValueError("max_threads must be at least 1")
        self._max_threads = max_threads
        self._name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._idle: deque[None] = deque()  # one token per idle thread (deque ops are atomic)
        self._threads: list[threading.Thread] = []
        self._inbox: _Inbox | None = None
        self._closed = False

    @property
    def thread_count(self) -> int:
        """Threads started so far (they stay until `close()`)."""
        return len(self._threads)

    def run(self, call: Callable[[], T]) -> asyncio.Future[T]:
        """Queue `call()` for a thread; the future (of the running loop) gets its outcome.

        Cancelling the future does not stop a call that has started; one still queued is
        skipped.
        """
        if self._closed:
            raise RuntimeError("the thread runner is closed")
        loop = asyncio.get_running_loop()
        inbox = self._inbox
        if inbox is None or inbox.loop is not loop:
            inbox = self._inbox = _Inbox(loop)
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((call, future, inbox))
        self._ensure_thread()
        return future

    def _ensure_thread(self) -> None:
        try:
            self._idle.pop()
        except IndexError:
            if len(self._threads) < self._max_threads:
                thread = threading.Thread(
                    target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def _work(self) -> None:
        jobs, idle = self._jobs, self._idle
        while (job := jobs.get()) is not None:
            call, future, inbox = job
            if not future.cancelled():
                try:
                    value, ok = call(), True
                except BaseException as exc:  # SystemExit in a task must not end the thread
                    value, ok = exc, False
                # Idle before the result is out: whoever it wakes reuses this thread.
                idle.append(None)
                inbox.put(future, ok, value)
                del value
            else:
                idle.append(None)
            del job, call, future, inbox  # hold nothing of a finished call while idle

    def close(self) -> None:
        """Stop every thread once it is done with its call; queued calls are skipped."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(queue.Empty):
            while True:
                job = self._jobs.get_nowait()
                if job is not None:
                    with contextlib.suppress(RuntimeError):  # its loop is closed already
                        job[1].get_loop().call_soon_threadsafe(job[1].cancel)
        for _ in self._threads:
            self._jobs.put(None)
