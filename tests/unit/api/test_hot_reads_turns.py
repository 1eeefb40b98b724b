"""Writes go first: while one is in flight, hot reads are let through a few per loop turn."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from starlette.types import Receive, Scope, Send

from basir.api.hot_reads import READS_PER_TURN, HotReads

READERS = 20


async def _one_turn_of_readers(gate: HotReads) -> list[asyncio.Task[None]]:
    """`READERS` hot reads arriving together, after their first turn of the loop."""
    readers = [asyncio.create_task(gate._wait_turn()) for _ in range(READERS)]
    await asyncio.sleep(0)  # the readers' first steps run before this resumes
    return readers


async def test_reads_wait_for_later_turns_only_while_a_write_is_in_flight() -> None:
    assert READS_PER_TURN < READERS
    write_started, write_may_end = asyncio.Event(), asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] == "POST":
            write_started.set()
            await write_may_end.wait()

    gate = HotReads(app, cast(Any, None), cast(Any, None))
    quiet = await _one_turn_of_readers(gate)
    assert all(reader.done() for reader in quiet)  # no write: nobody waits

    request = {"type": "http", "method": "POST", "path": "/api/v1/workflows/w/runs"}
    write = asyncio.create_task(gate(request, cast(Any, None), cast(Any, None)))
    await write_started.wait()
    assert gate.writes == 1
    await asyncio.sleep(0)  # a turn of its own
    busy = await _one_turn_of_readers(gate)
    assert sum(reader.done() for reader in busy) == READS_PER_TURN  # the rest wait
    await asyncio.gather(*busy)  # and go in the next turns
    write_may_end.set()
    await write
    assert gate.writes == 0
