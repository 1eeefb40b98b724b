"""Parts of the schedule clock's fires kept apart from `coordinator.schedules`: the engine
functions a fire uses, run ids drawn in pools, and the collector held back while a tick
writes."""

from __future__ import annotations

import contextlib
import functools
import gc
import secrets
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from basir.engine.runtime import Engine
    from basir.spec.models import WorkflowSpec
    from basir.store.records import RunRecord, TaskRecord


class RunKit(NamedTuple):
    """The engine's functions a fire uses, imported on first use (not by a CLI that only
    lists schedules) and then kept: a tick of a thousand fires imports nothing."""

    resolve_params: Callable[..., dict[str, Any]]
    refuse_run: Callable[[Engine, str, float], None]
    initial_rows: Callable[[RunRecord, WorkflowSpec, float], list[TaskRecord]]
    spec_model: type[WorkflowSpec]
    refuse_unfit: Callable[[Engine, WorkflowSpec], None]


@functools.cache
def run_kit() -> RunKit:
    from basir.engine.params import resolve_params
    from basir.engine.resource_policies import refuse_run
    from basir.engine.run_fit import refuse_unfit
    from basir.engine.state import initial_rows
    from basir.spec.models import WorkflowSpec

    return RunKit(resolve_params, refuse_run, initial_rows, WorkflowSpec, refuse_unfit)


class RunIds:
    """New run ids as `engine.runtime.new_run_id` makes them (milliseconds in hex, then 40
    random bits from the OS), with the random bits drawn for `POOL` ids at once: one system
    call per few hundred fires instead of one per fire."""

    POOL = 256

    def __init__(self) -> None:
        self._pool = ""  # hex digits, 10 (40 bits) per id
        self._at = 0

    def __call__(self) -> str:
        """The next run id."""
        at = self._at
        if at >= len(self._pool):
            self._pool, at = secrets.token_hex(5 * self.POOL), 0
        self._at = at + 10
        return f"{int(time.time() * 1000):011x}{self._pool[at : at + 10]}"


@contextlib.contextmanager
def collector_held() -> Iterator[None]:
    """Hold the cyclic garbage collector back while a tick builds and writes its fires.

    A tick of 1,000 fires allocates some 30,000 objects (records, rows, events) that all live
    until its write commits, and every young-generation pass meanwhile traverses them again:
    8–15 ms of such a tick's CPU under load (`bench/schedules_bench.py`).  None of it is
    cyclic garbage (reference counting frees it), and the collector resumes right after.
    Left as it is when something else already holds it back.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
