"""Python-task helpers shared by the in-process path and the isolated child process.

This module is what an isolated child imports, so it stays light: standard library,
`executors.base`, `executors.processes` and `executors.environment` only (no translations, no
HTTP client).  It reports failures as plain data; the parent turns them into localised messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import json
import os
import shutil
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from basir.executors.base import CURRENT_TASK, TaskContext, TaskFailure
from basir.executors.environment import task_process_env
from basir.executors.processes import die_with_parent

# One encoder for all calls: `json.dumps` with options builds a new one each time.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False)


def resolve(ref: str) -> Callable[..., Any]:
    """Import `module:function` (the function part may be dotted: `module:Class.method`)."""
    module_name, sep, attr_path = ref.partition(":")
    if not sep or not module_name or not attr_path:
        raise ValueError(f"expected module:function, got {ref!r}")
    target: Any = importlib.import_module(module_name)
    for attr in attr_path.split("."):
        target = getattr(target, attr)
    if not callable(target):
        raise TypeError(f"{ref} is not callable")
    return target  # type: ignore[no-any-return]


def is_async(function: Callable[..., Any]) -> bool:
    """Whether calling `function` gives a coroutine to await (an object with `async __call__`
    counts too)."""
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
        getattr(function, "__call__", None)  # noqa: B004 - the method itself, not callability
    )


def bind(function: Callable[..., Any], args: object) -> Callable[[], Any]:
    """A zero-argument call of `function` with `args`: a list is positional, a dict keywords."""
    if args is None:
        return function
    if isinstance(args, list | tuple):
        return lambda: function(*args)
    if isinstance(args, dict):
        return lambda: function(**args)
    raise TypeError("args must be a list, an object or empty")


def to_json(value: object) -> str:
    """The outputs of a return value as JSON text: a dict as is, None as `{}`, else `result`.

    Raises TypeError or ValueError when the value is not JSON (sets, objects, NaN, …).
    """
    if value is None:
        return "{}"
    outputs = value if isinstance(value, dict) else {"result": value}
    return _ENCODER.encode(outputs)


def describe(exc: BaseException) -> str:
    """`Type: message`, the one-line summary of an exception shown to the user."""
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


@dataclass(frozen=True, slots=True)
class ChildResult:
    """What an isolated call sends back: outputs JSON, or a failure summary and traceback.

    A function that raised `TaskFailure` has its own message as `error` and may have outputs.
    `memory_error` is set when the call failed with `MemoryError` (an allocation refused).
    """

    outputs_json: str | None = None
    error: str | None = None
    traceback: str | None = None
    bad_result: str | None = None
    memory_error: bool = False


def call_in_child(ref: str, args: object, ctx: TaskContext) -> ChildResult:
    """Run one python task inside a pool process (the target of `ProcessPoolExecutor.submit`).

    For the call, `os.environ` is exactly the task's clean environment (the allow-listed part
    of the server's, the task's `env`, its `BASIR_*` ids and its own `TMPDIR`), never the
    server's secrets; it is restored after, since the process is reused by later tasks.
    """
    saved = dict(os.environ)
    tmp_dir = tempfile.mkdtemp(prefix=f"basir-tmp-{os.getpid()}-")
    env = task_process_env(ctx.base_env, ctx.env, ctx.basir_env(), {"TMPDIR": tmp_dir})
    os.environ.clear()
    os.environ.update(env)
    saved_tempdir, tempfile.tempdir = tempfile.tempdir, tmp_dir
    token = CURRENT_TASK.set(ctx)
    try:
        function = resolve(ref)
        call = bind(function, args)
        value = asyncio.run(call()) if is_async(function) else call()
    except TaskFailure as exc:
        try:
            failure_outputs = to_json(exc.outputs)
        except (TypeError, ValueError):
            failure_outputs = None
        return ChildResult(
            error=exc.message, traceback=traceback.format_exc(), outputs_json=failure_outputs
        )
    except BaseException as exc:  # SystemExit too: the parent must get an answer
        return ChildResult(
            error=describe(exc),
            traceback=traceback.format_exc(),
            memory_error=isinstance(exc, MemoryError),
        )
    finally:
        CURRENT_TASK.reset(token)
        os.environ.clear()
        os.environ.update(saved)
        tempfile.tempdir = saved_tempdir
        shutil.rmtree(tmp_dir, ignore_errors=True)
    try:
        return ChildResult(outputs_json=to_json(value))
    except (TypeError, ValueError) as exc:
        return ChildResult(bad_result=str(exc))


def child_start() -> int:
    """Set up a new pool process and return its pid (asked once, when the process starts).

    The process leads a new session, so its group holds whatever the task starts and can be
    stopped as a whole, and it dies with its parent where Linux allows: no task outlives the
    engine that started it.
    """
    with contextlib.suppress(OSError):  # already a group leader: keep the group it has
        os.setsid()
    die_with_parent()
    return os.getpid()
