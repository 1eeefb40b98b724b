"""The built-in tasks of `uses:`: `noop`, `sleep`, `fail` and `echo` (DESIGN.md §4).

They need no process and no import, so they are what tests, examples and benchmarks use to
exercise the engine itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable

from basir.executors.base import JsonDict, TaskContext, TaskFailure
from basir.executors.logs import append_text, attempt_header
from basir.i18n.deferred import lazy
from basir.spec.units import parse_duration

BUILTINS = ("noop", "sleep", "fail", "echo")


class BuiltinExecutor:
    """Runs `{"uses": "noop"|"sleep"|"fail"|"echo", "with": {...}}` bodies."""

    kind = "uses"

    def __init__(self) -> None:
        self._handlers: dict[str, Callable[[JsonDict, TaskContext], Awaitable[JsonDict]]] = {
            "noop": _noop,
            "sleep": _sleep,
            "fail": _fail,
            "echo": _echo,
        }

    async def execute(self, body: JsonDict, ctx: TaskContext) -> JsonDict:
        """Run the named built-in; an unknown name is a task failure, not a crash."""
        name = body.get("uses")
        inputs = body.get("with") or {}
        if not isinstance(inputs, dict):
            raise TaskFailure(lazy("with must be an object"))
        handler = self._handlers.get(name) if isinstance(name, str) else None
        if handler is None:
            raise TaskFailure(
                lazy(
                    "unknown builtin {name}; expected one of: {names}",
                    name=repr(name),
                    names=", ".join(BUILTINS),
                )
            )
        return await handler(inputs, ctx)


async def _noop(inputs: JsonDict, ctx: TaskContext) -> JsonDict:
    return {}


async def _sleep(inputs: JsonDict, ctx: TaskContext) -> JsonDict:
    await asyncio.sleep(_seconds(inputs.get("seconds", 0)))
    return {}


def _seconds(value: object) -> float:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value)
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise TaskFailure(lazy("sleep: seconds: {error}", error=str(exc))) from None


async def _fail(inputs: JsonDict, ctx: TaskContext) -> JsonDict:
    message = inputs.get("message")
    raise TaskFailure(str(message) if message not in (None, "") else lazy("failed on purpose"))


async def _echo(inputs: JsonDict, ctx: TaskContext) -> JsonDict:
    message = inputs.get("message", "")
    text = (
        message
        if isinstance(message, str)
        else json.dumps(message, ensure_ascii=False, default=str)
    )
    with contextlib.suppress(OSError):
        append_text(ctx.log_path, text, header=attempt_header(ctx))
    return {"message": message}
