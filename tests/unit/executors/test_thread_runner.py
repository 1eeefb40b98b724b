"""The thread runner behind python tasks: results, errors, reuse, bounds, cancellation."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from basir.executors.threads import ThreadRunner


async def test_results_and_errors_reach_their_own_futures() -> None:
    runner = ThreadRunner(4)
    try:

        def boom() -> None:
            raise KeyError("nope")

        values = await asyncio.gather(*(runner.run(lambda i=i: i * i) for i in range(50)))
        assert values == [i * i for i in range(50)]
        with pytest.raises(KeyError, match="nope"):
            await runner.run(boom)
    finally:
        runner.close()


async def test_system_exit_in_a_call_is_its_result_and_the_thread_lives_on() -> None:
    runner = ThreadRunner(1)
    try:

        def leave() -> None:
            raise SystemExit(3)

        with pytest.raises(SystemExit):
            await runner.run(leave)
        assert await runner.run(lambda: "still here") == "still here"
        assert runner.thread_count == 1
    finally:
        runner.close()


async def test_calls_run_on_worker_threads_in_parallel_up_to_the_bound() -> None:
    runner = ThreadRunner(3)
    running = 0
    peak = 0
    lock = threading.Lock()

    def work() -> str:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return threading.current_thread().name

    try:
        names = await asyncio.gather(*(runner.run(work) for _ in range(9)))
    finally:
        runner.close()
    assert peak == 3
    assert runner.thread_count == 3
    assert threading.current_thread().name not in names
    assert all(name.startswith("basir-thread-") for name in names)


async def test_idle_threads_are_reused_before_new_ones_start() -> None:
    runner = ThreadRunner(100)
    try:
        for _ in range(20):
            await runner.run(lambda: None)
        assert runner.thread_count == 1
    finally:
        runner.close()


async def test_a_cancelled_call_that_has_not_started_never_runs() -> None:
    runner = ThreadRunner(1)
    release = threading.Event()
    ran: list[str] = []
    try:
        blocker = runner.run(release.wait)
        queued = runner.run(lambda: ran.append("queued"))
        queued.cancel()
        release.set()
        await blocker
        assert await runner.run(lambda: "after") == "after"
        assert ran == []
    finally:
        runner.close()


async def test_a_result_for_a_cancelled_awaiter_is_dropped_quietly() -> None:
    runner = ThreadRunner(1)
    started = threading.Event()
    release = threading.Event()

    def slow() -> str:
        started.set()
        release.wait()
        return "late"

    try:
        future = runner.run(slow)
        await asyncio.to_thread(started.wait)
        future.cancel()
        release.set()
        assert await runner.run(lambda: "next") == "next"
        assert future.cancelled()
    finally:
        runner.close()


async def test_close_cancels_queued_calls_and_refuses_new_ones() -> None:
    runner = ThreadRunner(1)
    release = threading.Event()
    busy = runner.run(release.wait)
    waiting = runner.run(lambda: "never")
    runner.close()
    runner.close()  # twice is harmless
    release.set()
    assert await busy is True
    with pytest.raises(asyncio.CancelledError):
        await waiting
    with pytest.raises(RuntimeError, match="closed"):
        runner.run(lambda: None)


def test_each_event_loop_gets_its_own_results() -> None:
    runner = ThreadRunner(2)

    async def one(value: int) -> int:
        return await runner.run(lambda: value)

    try:
        assert asyncio.run(one(1)) == 1
        assert asyncio.run(one(2)) == 2
    finally:
        runner.close()


def test_at_least_one_thread() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ThreadRunner(0)
