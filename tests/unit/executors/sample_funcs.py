"""Functions that the python executor tests call as `sample_funcs:<name>`."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

from basir.executors.base import TaskFailure, current_task

CALLS: list[str] = []


def add(a: int, b: int) -> int:
    return a + b


def greet(name: str, greeting: str = "hello") -> dict[str, str]:
    return {"text": f"{greeting} {name}"}


def nothing() -> None:
    return None


def trivial() -> dict[str, int]:
    return {"ok": 1}


async def async_add(a: int, b: int) -> dict[str, int]:
    await asyncio.sleep(0)
    return {"sum": a + b}


async def async_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


def blocking_sleep(seconds: float) -> None:
    time.sleep(seconds)


def boom(message: str = "bad input") -> None:
    raise ValueError(message)


def fail_with_outputs() -> None:
    raise TaskFailure("custom failure", outputs={"partial": 1})


def exit_now() -> None:
    sys.exit(4)


def not_json() -> dict[str, Any]:
    return {"value": {1, 2, 3}}


def nan() -> float:
    return float("nan")


def big(size: int) -> dict[str, str]:
    return {"blob": "x" * size}


def returns_list() -> list[int]:
    return [1, 2, 3]


def context_info() -> dict[str, Any]:
    ctx = current_task()
    assert ctx is not None
    return {
        "run_id": ctx.run_id,
        "idempotency_key": ctx.idempotency_key,
        "env_run_id": os.environ.get("BASIR_RUN_ID"),
        "env_extra": os.environ.get("EXTRA"),
        "pid": os.getpid(),
    }


async def async_context_info() -> dict[str, Any]:
    ctx = current_task()
    assert ctx is not None
    return {"attempt_id": ctx.attempt_id}


def pid() -> int:
    return os.getpid()


def crash(code: int = 3) -> None:
    os._exit(code)


def write_pid_and_sleep(path: str, seconds: float = 100.0) -> None:
    Path(path).write_text(str(os.getpid()))
    time.sleep(seconds)


def process_identity(recorded: str) -> dict[str, Any]:
    """Who runs this call, and whether the engine had recorded it (a file) before it began."""
    return {
        "pid": os.getpid(),
        "pgid": os.getpgid(0),
        "sid": os.getsid(0),
        "recorded_first": Path(recorded).exists(),
    }


class Greeter:
    @staticmethod
    def hello(name: str) -> str:
        return f"hi {name}"


class _AsyncCallable:
    async def __call__(self, value: int) -> dict[str, int]:
        await asyncio.sleep(0)
        return {"double": value * 2}


async_callable = _AsyncCallable()

NOT_CALLABLE = 42


def address_space_limit() -> list[int]:
    """This process's (soft, hard) RLIMIT_AS now."""
    import resource

    return list(resource.getrlimit(resource.RLIMIT_AS))
