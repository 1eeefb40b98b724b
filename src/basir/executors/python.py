"""The `python:` executor: call `module:function` with `args`; its return value is the outputs.

In-process (the default) is the fast path: the function is imported once and cached; an
`async def` is awaited on the event loop, a plain function runs in a thread pool owned by the
executor (threads are started lazily, up to `max_workers`, so many sleeping tasks overlap).
Nothing the function prints is captured — `print` goes to the server's own stdout; the log
file is opened only to record a failure's traceback.  A running thread cannot be killed, so
on timeout or cancellation a plain function keeps running in the background until it
returns (its result is dropped); use `isolate: true` when that matters.

`isolate: true` runs the call in a child process (see `executors.isolation`): a crash fails
only that task, cancellation kills the process, and stdout/stderr go to the worker's own.

Inside the function, `basir.executors.base.current_task()` gives the attempt's context (run
and attempt ids, idempotency key); an isolated call also sees the `BASIR_*` variables and the
task's `env` in `os.environ`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import json
import sys
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from basir.executors.base import (
    CURRENT_TASK,
    DEFAULT_MAX_IDLE_PROCESSES,
    DEFAULT_START_METHOD,
    JsonDict,
    TaskContext,
    TaskFailure,
)
from basir.executors.child import ChildResult, describe, is_async, resolve, to_json
from basir.executors.logs import append_text, attempt_header
from basir.executors.threads import ThreadRunner
from basir.i18n.deferred import Lazy, lazy

if TYPE_CHECKING:  # multiprocessing is imported only when a task asks for isolation
    from basir.executors.isolation import ProcessRunner

DEFAULT_MAX_THREADS = 1024
# Threads for imports, failure logs and starting isolated processes (not for task bodies).
HOUSEKEEPING_THREADS = 8
UTF8_MAX_BYTES_PER_CHAR = 4


class PythonExecutor:
    """Runs `{"python": "module:function", "args": list|dict|None, "isolate": bool}` bodies."""

    kind = "python"

    def __init__(
        self,
        *,
        max_workers: int = DEFAULT_MAX_THREADS,
        max_idle_processes: int = DEFAULT_MAX_IDLE_PROCESSES,
        start_method: str = DEFAULT_START_METHOD,
    ) -> None:
        self._max_workers = max_workers
        self._max_idle_processes = max_idle_processes
        self._start_method = start_method
        self._calls: ThreadRunner | None = None
        self._threads: ThreadPoolExecutor | None = None
        self._processes: ProcessRunner | None = None
        self._functions: dict[str, tuple[Callable[..., Any], bool]] = {}

    async def execute(self, body: JsonDict, ctx: TaskContext) -> JsonDict:
        """Call the function once; return its outputs or raise `TaskFailure`."""
        ref = body.get("python")
        if not isinstance(ref, str):
            raise TaskFailure(lazy("a python task needs module:function"))
        args = body.get("args")
        if args is not None and not isinstance(args, list | dict):
            raise TaskFailure(lazy("args must be a list, an object or empty"))
        if body.get("isolate"):
            return await self._execute_isolated(ref, args, ctx)
        function, coroutine = self._functions.get(ref) or await self._load(ref, ctx.workdir)
        try:
            if coroutine:
                value = await self._await(function, args, ctx)
            else:
                value = await self._in_thread(function, args, ctx)
        except asyncio.CancelledError:
            raise
        except TaskFailure as exc:
            await self._log_traceback(ctx, traceback.format_exc())
            raise exc from None
        except BaseException as exc:  # SystemExit from a task must not stop the server
            await self._log_traceback(ctx, "".join(traceback.format_exception(exc)))
            raise TaskFailure(describe(exc)) from None
        return self._outputs(value, ctx)

    async def _load(self, ref: str, workdir: Path) -> tuple[Callable[..., Any], bool]:
        """Import the function off the event loop (a first import can be slow), then cache it.

        The task's working directory is searched last, so a project's own modules import
        (as with `python -m` run from that folder) without shadowing installed packages.
        """
        if str(workdir) not in sys.path:
            sys.path.append(str(workdir))
        loop = asyncio.get_running_loop()
        try:
            function = await loop.run_in_executor(self._pool(), resolve, ref)
        except Exception as exc:
            raise TaskFailure(
                lazy("cannot load {ref}: {error}", ref=ref, error=describe(exc))
            ) from None
        entry = (function, is_async(function))
        self._functions[ref] = entry
        return entry

    @staticmethod
    async def _await(function: Callable[..., Any], args: object, ctx: TaskContext) -> object:
        token = CURRENT_TASK.set(ctx)
        try:
            if args is None:
                return await function()
            if isinstance(args, list):
                return await function(*args)
            return await function(**args)  # type: ignore[arg-type]
        finally:
            CURRENT_TASK.reset(token)

    async def _in_thread(
        self, function: Callable[..., Any], args: object, ctx: TaskContext
    ) -> object:
        context = contextvars.copy_context()
        context.run(CURRENT_TASK.set, ctx)
        if args is None:
            call = functools.partial(context.run, function)
        elif isinstance(args, list):
            call = functools.partial(context.run, function, *args)
        else:
            call = functools.partial(context.run, functools.partial(function, **args))  # type: ignore[arg-type]
        return await self._runner().run(call)

    async def _execute_isolated(self, ref: str, args: object, ctx: TaskContext) -> JsonDict:
        if self._processes is None:
            from basir.executors.isolation import ProcessRunner

            self._processes = ProcessRunner(
                self._pool(), max_idle=self._max_idle_processes, start_method=self._start_method
            )
        result: ChildResult = await self._processes.run(ref, args, ctx)
        if result.traceback:
            await self._log_traceback(ctx, result.traceback)
        if result.error is not None:
            outputs = json.loads(result.outputs_json) if result.outputs_json else {}
            # A refused allocation under an address-space limit is the limit reached.
            limit = ctx.memory_limit
            oom = result.memory_error and limit is not None and limit.mode == "rlimit"
            raise TaskFailure(result.error, outputs=outputs, reason="oom" if oom else None)
        if result.bad_result is not None or result.outputs_json is None:
            raise TaskFailure(_not_json_message(result.bad_result or ""))
        return self._checked(result.outputs_json, ctx)

    def _outputs(self, value: object, ctx: TaskContext) -> JsonDict:
        try:
            text = to_json(value)
        except (TypeError, ValueError) as exc:
            raise TaskFailure(_not_json_message(str(exc))) from None
        return self._checked(text, ctx)

    @staticmethod
    def _checked(text: str, ctx: TaskContext) -> JsonDict:
        cap = ctx.outputs_cap_bytes
        if len(text) * UTF8_MAX_BYTES_PER_CHAR > cap and len(text.encode()) > cap:
            raise TaskFailure(lazy("outputs are larger than the limit of {limit} bytes", limit=cap))
        outputs: JsonDict = json.loads(text)
        return outputs

    async def _log_traceback(self, ctx: TaskContext, text: str) -> None:
        write = functools.partial(append_text, ctx.log_path, text, header=attempt_header(ctx))
        # A log that cannot be written must not hide the task's own failure.
        with contextlib.suppress(OSError):
            await asyncio.get_running_loop().run_in_executor(self._pool(), write)

    def _runner(self) -> ThreadRunner:
        if self._calls is None:
            self._calls = ThreadRunner(self._max_workers, name="basir-python")
        return self._calls

    def _pool(self) -> ThreadPoolExecutor:
        """Threads for the rare blocking chores: imports, failure logs, starting processes."""
        if self._threads is None:
            self._threads = ThreadPoolExecutor(
                max_workers=HOUSEKEEPING_THREADS, thread_name_prefix="basir-python-chores"
            )
        return self._threads

    def close(self) -> None:
        """Kill isolated child processes and stop the thread pool (running threads finish)."""
        if self._processes is not None:
            self._processes.close()
            self._processes = None
        if self._calls is not None:
            self._calls.close()
            self._calls = None
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)
            self._threads = None

    async def aclose(self) -> None:
        """`close()`, for callers that close every executor the same way."""
        self.close()


def _not_json_message(error: str) -> Lazy:
    return lazy(
        "the function must return JSON data (a dict, list, string, number…): {error}", error=error
    )
