"""The built-in tasks: noop, sleep, fail, echo."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from basir.executors.base import TaskContext, TaskFailure
from basir.executors.builtin import BuiltinExecutor

MakeCtx = Callable[..., TaskContext]


async def test_noop(make_ctx: MakeCtx) -> None:
    assert await BuiltinExecutor().execute({"uses": "noop"}, make_ctx()) == {}


@pytest.mark.parametrize("seconds", [0.05, "0.05", "50ms"])
async def test_sleep(make_ctx: MakeCtx, seconds: object) -> None:
    started = time.monotonic()
    result = await BuiltinExecutor().execute(
        {"uses": "sleep", "with": {"seconds": seconds}}, make_ctx()
    )
    assert result == {}
    assert time.monotonic() - started >= 0.04


@pytest.mark.parametrize("seconds", [-1, "soon", True, "nan"])
async def test_sleep_rejects_bad_seconds(make_ctx: MakeCtx, seconds: object) -> None:
    with pytest.raises(TaskFailure, match="seconds"):
        await BuiltinExecutor().execute({"uses": "sleep", "with": {"seconds": seconds}}, make_ctx())


async def test_sleep_is_cancellable(make_ctx: MakeCtx) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await BuiltinExecutor().execute({"uses": "sleep", "with": {"seconds": 10}}, make_ctx())
    assert time.monotonic() - started < 1


async def test_fail_default_message(make_ctx: MakeCtx) -> None:
    with pytest.raises(TaskFailure, match="failed on purpose"):
        await BuiltinExecutor().execute({"uses": "fail"}, make_ctx())


async def test_fail_with_message(make_ctx: MakeCtx) -> None:
    with pytest.raises(TaskFailure) as info:
        await BuiltinExecutor().execute({"uses": "fail", "with": {"message": "nope"}}, make_ctx())
    assert info.value.message == "nope"


async def test_echo_returns_and_logs_message(make_ctx: MakeCtx) -> None:
    ctx = make_ctx()
    result = await BuiltinExecutor().execute({"uses": "echo", "with": {"message": "مرحبا"}}, ctx)
    assert result == {"message": "مرحبا"}
    assert ctx.log_path.read_text(encoding="utf-8") == "--- attempt 1 (att-1) ---\nمرحبا\n"


async def test_echo_non_string_message(make_ctx: MakeCtx) -> None:
    ctx = make_ctx()
    result = await BuiltinExecutor().execute({"uses": "echo", "with": {"message": [1, 2]}}, ctx)
    assert result == {"message": [1, 2]}
    assert "[1, 2]" in ctx.log_path.read_text()


async def test_unknown_builtin(make_ctx: MakeCtx) -> None:
    with pytest.raises(TaskFailure, match="unknown builtin 'teleport'"):
        await BuiltinExecutor().execute({"uses": "teleport"}, make_ctx())


async def test_with_must_be_an_object(make_ctx: MakeCtx) -> None:
    with pytest.raises(TaskFailure, match="with must be an object"):
        await BuiltinExecutor().execute({"uses": "noop", "with": [1]}, make_ctx())


async def test_arabic_failure_message(make_ctx: MakeCtx) -> None:
    from basir.i18n import use_locale

    with use_locale("ar"), pytest.raises(TaskFailure) as info:
        await BuiltinExecutor().execute({"uses": "fail"}, make_ctx())
    assert info.value.message  # translated when the catalog has it, English otherwise
