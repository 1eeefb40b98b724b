"""The python executor, in-process path: import, call, outputs, failures, speed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest

from basir.executors.base import JsonDict, TaskContext, TaskFailure, current_task
from basir.executors.python import PythonExecutor

MakeCtx = Callable[..., TaskContext]


@pytest.fixture
async def executor() -> AsyncIterator[PythonExecutor]:
    executor = PythonExecutor()
    yield executor
    await executor.aclose()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"python": "sample_funcs:add", "args": [2, 3]}, {"result": 5}),
        ({"python": "sample_funcs:greet", "args": {"name": "Basir"}}, {"text": "hello Basir"}),
        (
            {"python": "sample_funcs:greet", "args": {"name": "x", "greeting": "salam"}},
            {"text": "salam x"},
        ),
        ({"python": "sample_funcs:nothing"}, {}),
        ({"python": "sample_funcs:nothing", "args": None}, {}),
        ({"python": "sample_funcs:returns_list"}, {"result": [1, 2, 3]}),
        ({"python": "sample_funcs:async_add", "args": [1, 2]}, {"sum": 3}),
        ({"python": "sample_funcs:async_add", "args": {"a": 1, "b": 5}}, {"sum": 6}),
        ({"python": "sample_funcs:Greeter.hello", "args": ["you"]}, {"result": "hi you"}),
        ({"python": "sample_funcs:async_callable", "args": [4]}, {"double": 8}),
    ],
)
async def test_calls(
    executor: PythonExecutor, make_ctx: MakeCtx, body: JsonDict, expected: JsonDict
) -> None:
    assert await executor.execute(body, make_ctx()) == expected


async def test_outputs_are_a_detached_json_copy(
    executor: PythonExecutor, make_ctx: MakeCtx
) -> None:
    import sample_funcs

    original = sample_funcs.trivial()
    result = await executor.execute({"python": "sample_funcs:trivial"}, make_ctx())
    assert result == original
    assert result is not original


async def test_exception_becomes_failure_with_traceback_in_log(
    executor: PythonExecutor, make_ctx: MakeCtx
) -> None:
    ctx = make_ctx()
    with pytest.raises(TaskFailure) as info:
        await executor.execute({"python": "sample_funcs:boom", "args": ["no good"]}, ctx)
    assert info.value.message == "ValueError: no good"
    log = ctx.log_path.read_text()
    assert log.startswith("--- attempt 1 (att-1) ---\n")
    assert "Traceback" in log
    assert "sample_funcs.py" in log
    assert "raise ValueError(message)" in log


async def test_task_failure_from_the_function_passes_through(
    executor: PythonExecutor, make_ctx: MakeCtx
) -> None:
    with pytest.raises(TaskFailure) as info:
        await executor.execute({"python": "sample_funcs:fail_with_outputs"}, make_ctx())
    assert info.value.message == "custom failure"
    assert info.value.outputs == {"partial": 1}


async def test_system_exit_fails_the_task_only(executor: PythonExecutor, make_ctx: MakeCtx) -> None:
    with pytest.raises(TaskFailure, match="SystemExit: 4"):
        await executor.execute({"python": "sample_funcs:exit_now"}, make_ctx())


@pytest.mark.parametrize("ref", ["sample_funcs:not_json", "sample_funcs:nan"])
async def test_non_json_return_value(executor: PythonExecutor, make_ctx: MakeCtx, ref: str) -> None:
    with pytest.raises(TaskFailure, match="must return JSON"):
        await executor.execute({"python": ref}, make_ctx())


async def test_outputs_too_large(executor: PythonExecutor, make_ctx: MakeCtx) -> None:
    ctx = make_ctx(outputs_cap_bytes=1000)
    assert await executor.execute({"python": "sample_funcs:big", "args": [100]}, ctx)
    with pytest.raises(TaskFailure, match="limit of 1000 bytes"):
        await executor.execute({"python": "sample_funcs:big", "args": [2000]}, ctx)


@pytest.mark.parametrize(
    ("ref", "match"),
    [
        ("no_such_module_xyz:f", "cannot load no_such_module_xyz:f: ModuleNotFoundError"),
        ("sample_funcs:missing", "AttributeError"),
        ("sample_funcs:NOT_CALLABLE", "not callable"),
        ("sample_funcs", "module:function"),
    ],
)
async def test_load_errors(
    executor: PythonExecutor, make_ctx: MakeCtx, ref: str, match: str
) -> None:
    with pytest.raises(TaskFailure, match=match):
        await executor.execute({"python": ref}, make_ctx())


async def test_bad_args(executor: PythonExecutor, make_ctx: MakeCtx) -> None:
    with pytest.raises(TaskFailure, match="args must be"):
        await executor.execute({"python": "sample_funcs:add", "args": "1,2"}, make_ctx())
    with pytest.raises(TaskFailure, match="TypeError"):
        await executor.execute({"python": "sample_funcs:add", "args": [1]}, make_ctx())


async def test_missing_reference(executor: PythonExecutor, make_ctx: MakeCtx) -> None:
    with pytest.raises(TaskFailure, match="module:function"):
        await executor.execute({}, make_ctx())


async def test_current_task_is_visible_to_sync_and_async_functions(
    executor: PythonExecutor, make_ctx: MakeCtx
) -> None:
    ctx = make_ctx(run_id="r-42", attempt_id="a-7")
    sync_result = await executor.execute({"python": "sample_funcs:context_info"}, ctx)
    assert sync_result["run_id"] == "r-42"
    assert sync_result["idempotency_key"] == "r-42/task-1"
    async_result = await executor.execute({"python": "sample_funcs:async_context_info"}, ctx)
    assert async_result == {"attempt_id": "a-7"}
    assert current_task() is None


async def test_sync_functions_overlap_in_threads(make_ctx: MakeCtx) -> None:
    """W3: 500 tasks that each block for a second finish in about a second."""
    executor = PythonExecutor()
    ctx = make_ctx()
    body = {"python": "sample_funcs:blocking_sleep", "args": [1.0]}
    try:
        started = time.monotonic()
        await asyncio.gather(*(executor.execute(body, ctx) for _ in range(500)))
        assert time.monotonic() - started < 3.0
    finally:
        executor.close()


async def test_async_function_is_cancelled(executor: PythonExecutor, make_ctx: MakeCtx) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await executor.execute({"python": "sample_funcs:async_sleep", "args": [10]}, make_ctx())
    assert time.monotonic() - started < 1


async def test_sync_function_timeout_returns_promptly(
    executor: PythonExecutor, make_ctx: MakeCtx
) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await executor.execute(
                {"python": "sample_funcs:blocking_sleep", "args": [5]}, make_ctx()
            )
    assert time.monotonic() - started < 3  # returned without waiting out the 5 s call


async def test_fast_path_does_no_file_io_and_is_cheap(
    executor: PythonExecutor, make_ctx: MakeCtx
) -> None:
    ctx = make_ctx()
    body = {"python": "sample_funcs:trivial"}
    await executor.execute(body, ctx)
    count = 1000
    started = time.perf_counter()
    await asyncio.gather(*(executor.execute(body, ctx) for _ in range(count)))
    per_call_s = (time.perf_counter() - started) / count
    assert not ctx.log_path.exists()
    assert not ctx.workdir.exists()
    assert per_call_s < 0.002  # about 0.1 ms on a quiet machine; loose for busy CI


async def test_function_is_imported_once(executor: PythonExecutor, make_ctx: MakeCtx) -> None:
    await executor.execute({"python": "sample_funcs:trivial"}, make_ctx())
    assert "sample_funcs:trivial" in executor._functions


async def test_close_is_idempotent(make_ctx: MakeCtx) -> None:
    executor = PythonExecutor()
    await executor.execute({"python": "sample_funcs:trivial"}, make_ctx())
    executor.close()
    executor.close()
