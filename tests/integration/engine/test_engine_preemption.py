"""Preemption: a critical task that cannot start stops lower preemptible tasks, which run again.

The victims are real `run:` processes: the first attempt records itself and sleeps, a later
one ends at once, so a task that succeeded after a preemption ran twice and its first process
group was stopped.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from basir.config import QueueLimit, Settings
from basir.coordinator.workflows import apply_workflow
from basir.engine.report import run_to_dict
from basir.engine.runtime import Engine
from basir.events.bus import EventBus
from basir.spec.models import WorkflowSpec
from basir.store.base import Store
from basir.store.records import EventRecord

WAIT_S = 20

# The first attempt sleeps long (so only a stop ends it early); later attempts succeed at once.
SLEEPS_FIRST = 'echo x >> "{name}.attempts"; [ "$(wc -l < {name}.attempts)" -gt 1 ] || sleep 60'


def victim(name: str, **extra: Any) -> dict[str, Any]:
    """A low task whose first attempt sleeps 60 s and whose later attempts succeed."""
    return {"id": name, "run": SLEEPS_FIRST.format(name=name), "priority": "low", **extra}


@pytest.fixture
async def one_slot(store: Store, tmp_path: Path) -> AsyncIterator[Engine]:
    """An engine that runs one attempt at a time, with a `gpu` pool of one."""
    settings = Settings(
        home=tmp_path / "home", shutdown_grace_s=0.0, max_parallel=1, pools={"gpu": 1}
    )
    engine = Engine(store, settings, workdir=tmp_path, bus=EventBus())
    await engine.start(resume=False)
    yield engine
    await engine.stop(grace_s=0)


async def submit(engine: Engine, name: str, tasks: list[dict[str, Any]], **extra: Any) -> str:
    document = {"name": name, "tasks": tasks, **extra}
    version, _ = await apply_workflow(engine.store, WorkflowSpec.model_validate(document))
    return (await engine.submit(version)).id


async def started(engine: Engine, task_id: str, submit_it: Any) -> str:
    """Run `submit_it()`; return its run id once `task_id`'s first attempt runs its body.

    `task.started` is recorded before the process is released from its gate, so the body's
    own mark (`<task>.attempts`, written by `victim`) is what says it runs.
    """
    run_id: str = await submit_it()
    mark = engine.workdir / f"{task_id}.attempts"
    async with asyncio.timeout(WAIT_S):
        while not mark.exists():
            await asyncio.sleep(0.02)
    return run_id


async def events_of(engine: Engine, run_id: str, kind: str) -> list[EventRecord]:
    return await engine.store.list_events(run_id=run_id, types=(kind,), limit=1000)


async def test_a_critical_task_takes_the_slot_of_a_preemptible_low_one(
    one_slot: Engine, tmp_path: Path
) -> None:
    low_run = await started(
        one_slot, "bulk", lambda: submit(one_slot, "bulk", [victim("bulk", preemptible=True)])
    )
    with one_slot.bus.subscribe(lambda e: e.type == "task.started") as starts:
        urgent_run = await submit(
            one_slot, "urgent", [{"id": "fix", "uses": "noop", "priority": "critical"}]
        )
        order = [(await asyncio.wait_for(starts.get(), WAIT_S)).task_id for _ in range(2)]
        assert order == ["fix", "bulk"]  # the critical task first, then the low one again
    assert (await asyncio.wait_for(one_slot.wait(urgent_run), WAIT_S)).status == "succeeded"
    assert (await asyncio.wait_for(one_slot.wait(low_run), WAIT_S)).status == "succeeded"
    (bulk,) = await one_slot.store.get_tasks(low_run)
    assert (bulk.status, bulk.attempts, bulk.preemptions) == ("succeeded", 1, 1)
    assert (tmp_path / "bulk.attempts").read_text().count("x") == 2
    shown = run_to_dict(await one_slot.store.get_run(low_run), [bulk])  # type: ignore[arg-type]
    assert shown["tasks"]["bulk"]["preemptions"] == 1  # as GET /runs/{id} shows it
    (event,) = await events_of(one_slot, low_run, "task.preempted")
    assert event.data["task_id"] == "bulk"
    assert event.data["by_run_id"] == urgent_run
    assert event.data["by_task_id"] == "fix"
    assert event.data["reason"] == "slots"
    assert one_slot.flow.preemption.stopping == {}


async def test_a_preempted_task_keeps_its_retry_budget(one_slot: Engine, tmp_path: Path) -> None:
    # No retries at all: had the stop counted as a failure, the task would have failed.
    tasks = [victim("bulk", preemptible=True, retries=0)]
    low_run = await started(one_slot, "bulk", lambda: submit(one_slot, "bulk", tasks))
    await submit(one_slot, "urgent", [{"id": "fix", "uses": "noop"}], priority="critical")
    assert (await asyncio.wait_for(one_slot.wait(low_run), WAIT_S)).status == "succeeded"
    (bulk,) = await one_slot.store.get_tasks(low_run)
    assert (bulk.attempts, bulk.preemptions, bulk.error) == (1, 1, None)


@pytest.mark.parametrize(
    ("victim_extra", "critical_priority"),
    [
        ({}, "critical"),  # not preemptible: never stopped
        ({"preemptible": False}, "critical"),
        ({"preemptible": True, "priority": "critical"}, "critical"),  # an equal class
        ({"preemptible": True, "priority": 95}, 90),  # a higher number, the same class
        ({"preemptible": True}, "high"),  # only critical preempts
    ],
)
async def test_who_is_never_stopped(
    one_slot: Engine, tmp_path: Path, victim_extra: dict[str, Any], critical_priority: Any
) -> None:
    task = {"id": "bulk", "run": "echo x > bulk.attempts; sleep 0.6", "priority": "low"}
    task.update(victim_extra)
    low_run = await started(one_slot, "bulk", lambda: submit(one_slot, "bulk", [task]))
    urgent_run = await submit(
        one_slot, "urgent", [{"id": "fix", "uses": "noop", "priority": critical_priority}]
    )
    assert (await asyncio.wait_for(one_slot.wait(urgent_run), WAIT_S)).status == "succeeded"
    assert (await one_slot.wait(low_run)).status == "succeeded"
    assert await events_of(one_slot, low_run, "task.preempted") == []
    (bulk,) = await one_slot.store.get_tasks(low_run)
    fix = (await one_slot.store.get_tasks(urgent_run))[0]
    assert bulk.preemptions == 0
    assert bulk.finished_at is not None and fix.started_at is not None
    assert fix.started_at >= bulk.finished_at  # it waited for the slot


async def test_defaults_preemptible_and_the_youngest_low_task_goes_first(
    store: Store, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path / "home", shutdown_grace_s=0.0, max_parallel=2)
    engine = Engine(store, settings, workdir=tmp_path)
    await engine.start(resume=False)
    try:
        old = await started(
            engine,
            "old",
            lambda: submit(engine, "old", [victim("old")], defaults={"preemptible": True}),
        )
        young = await started(
            engine,
            "young",
            lambda: submit(engine, "young", [victim("young")], defaults={"preemptible": True}),
        )
        urgent = await submit(engine, "urgent", [{"id": "fix", "uses": "noop", "priority": 100}])
        assert (await asyncio.wait_for(engine.wait(urgent), WAIT_S)).status == "succeeded"
        assert (await asyncio.wait_for(engine.wait(young), WAIT_S)).status == "succeeded"
        assert await events_of(engine, old, "task.preempted") == []
        assert len(await events_of(engine, young, "task.preempted")) == 1  # only as many as needed
        await engine.cancel_run(old)
    finally:
        await engine.stop(grace_s=0)


async def test_a_critical_task_preempts_for_a_pool(one_slot: Engine) -> None:
    one_slot.settings.max_parallel = 4  # slots to spare: only the gpu is short
    gpu = {"pools": {"gpu": 1}}
    low_run = await started(
        one_slot,
        "train",
        lambda: submit(one_slot, "train", [victim("train", preemptible=True, resources=gpu)]),
    )
    urgent = await submit(
        one_slot,
        "urgent",
        [{"id": "infer", "uses": "noop", "priority": "critical", "resources": gpu}],
    )
    assert (await asyncio.wait_for(one_slot.wait(urgent), WAIT_S)).status == "succeeded"
    assert (await asyncio.wait_for(one_slot.wait(low_run), WAIT_S)).status == "succeeded"
    (event,) = await events_of(one_slot, low_run, "task.preempted")
    assert (event.data["reason"], event.data["by_task_id"]) == ("resources", "infer")
    assert one_slot.flow.admission.allocator.held == {}


async def test_a_critical_task_preempts_within_its_run_concurrency(one_slot: Engine) -> None:
    one_slot.settings.max_parallel = 4
    run_id = await started(
        one_slot,
        "bulk",
        lambda: submit(one_slot, "mixed", [victim("bulk", preemptible=True)], concurrency=1),
    )
    with one_slot.bus.subscribe(lambda e: e.type == "task.preempted") as preempted:
        await one_slot.add_tasks(run_id, [{"id": "hotfix", "uses": "noop", "priority": "critical"}])
        event = await asyncio.wait_for(preempted.get(), WAIT_S)
    assert (event.data["reason"], event.data["by_task_id"]) == ("concurrency", "hotfix")
    assert (await asyncio.wait_for(one_slot.wait(run_id), WAIT_S)).status == "succeeded"


async def test_one_victim_frees_both_the_slot_and_the_pool(one_slot: Engine) -> None:
    # Two slots, both taken: `holder` (older) has the gpu, `idle` (younger) has nothing the
    # critical task needs but a slot.  Stopping the youngest for the slot, then `holder` for
    # the gpu, would stop two; `holder` alone frees both.
    one_slot.settings.max_parallel = 2
    gpu = {"pools": {"gpu": 1}}
    holder = await started(
        one_slot,
        "holder",
        lambda: submit(one_slot, "holder", [victim("holder", preemptible=True, resources=gpu)]),
    )
    idle = await started(
        one_slot, "idle", lambda: submit(one_slot, "idle", [victim("idle", preemptible=True)])
    )
    fix = {"id": "fix", "uses": "noop", "priority": "critical", "resources": gpu}
    urgent = await submit(one_slot, "urgent", [fix])
    assert (await asyncio.wait_for(one_slot.wait(urgent), WAIT_S)).status == "succeeded"
    assert (await asyncio.wait_for(one_slot.wait(holder), WAIT_S)).status == "succeeded"
    (event,) = await events_of(one_slot, holder, "task.preempted")
    assert event.data["reason"] == "slots"
    assert await events_of(one_slot, idle, "task.preempted") == []
    await one_slot.cancel_run(idle)


@pytest.fixture
async def builds_queue(store: Store, tmp_path: Path) -> AsyncIterator[Engine]:
    """An engine with a `builds` queue of one and a `gpu` pool of one (slots set per test)."""
    settings = Settings(
        home=tmp_path / "home",
        shutdown_grace_s=0.0,
        max_parallel=1,
        queues="builds=1",
        pools={"gpu": 1},
    )
    engine = Engine(store, settings, workdir=tmp_path, bus=EventBus())
    await engine.start(resume=False)
    yield engine
    await engine.stop(grace_s=0)


@pytest.mark.parametrize("slots", [1, 4])  # every slot taken too, or slots to spare
async def test_a_critical_task_waiting_for_its_queue_preempts_the_queues_holder(
    builds_queue: Engine, slots: int
) -> None:
    builds_queue.settings.max_parallel = slots
    gpu = {"pools": {"gpu": 1}}  # short of it too: the victim frees both together
    bulk = victim("bulk", preemptible=True, queue="builds", resources=gpu)
    low_run = await started(builds_queue, "bulk", lambda: submit(builds_queue, "bulk", [bulk]))
    fix = {"id": "fix", "uses": "noop", "priority": "critical", "queue": "builds", "resources": gpu}
    urgent = await submit(builds_queue, "urgent", [fix])
    assert (await asyncio.wait_for(builds_queue.wait(urgent), WAIT_S)).status == "succeeded"
    assert (await asyncio.wait_for(builds_queue.wait(low_run), WAIT_S)).status == "succeeded"
    (event,) = await events_of(builds_queue, low_run, "task.preempted")
    expected = (urgent, "fix", "queue")
    assert (event.data["by_run_id"], event.data["by_task_id"], event.data["reason"]) == expected
    (stopped,) = await builds_queue.store.get_tasks(low_run)
    assert (stopped.attempts, stopped.preemptions) == (1, 1)  # no retry spent
    (done,) = await builds_queue.store.get_tasks(urgent)
    assert done.queue == "builds"
    assert builds_queue.flow.admission.throttle.held == {}


async def test_a_critical_task_held_back_by_a_rate_stops_nobody(
    store: Store, tmp_path: Path
) -> None:
    settings = Settings(
        home=tmp_path / "home", shutdown_grace_s=0.0, max_parallel=4, queues="api=@1/m"
    )
    engine = Engine(store, settings, workdir=tmp_path, bus=EventBus())
    await engine.start(resume=False)
    try:
        bulk = victim("bulk", preemptible=True, queue="api")  # takes the minute's one token
        low_run = await started(engine, "bulk", lambda: submit(engine, "bulk", [bulk]))
        fix = {"id": "fix", "uses": "noop", "priority": "critical", "queue": "api"}
        urgent = await submit(engine, "urgent", [fix])
        async with asyncio.timeout(WAIT_S):  # the decision is taken as it is set aside
            while (urgent, "fix") not in engine.flow.admission.waiting:
                await asyncio.sleep(0.02)
        assert engine.flow.admission.waiting[(urgent, "fix")][2] == "rate:api"
        assert engine.flow.preemption.stopping == {}
        assert engine.flow.runs[low_run].tasks["bulk"].stop_reason is None
        assert await events_of(engine, low_run, "task.preempted") == []
        await engine.cancel_run(low_run)
        await engine.cancel_run(urgent)
    finally:
        await engine.stop(grace_s=0)


async def test_a_full_queue_with_a_spent_rate_preempts_once_the_token_is_back(
    store: Store, tmp_path: Path
) -> None:
    # One slot and one token per 5 s: `bulk` takes both; `fix` finds the queue full and no
    # token.  Nobody is stopped then (no stop brings the token back); when the token is back,
    # `fix` is offered again and preempts `bulk` for the slot.
    queues = {"api": QueueLimit(slots=1, rate=1, per_s=5.0)}
    settings = Settings(home=tmp_path / "home", shutdown_grace_s=0.0, max_parallel=4, queues=queues)
    engine = Engine(store, settings, workdir=tmp_path, bus=EventBus())
    await engine.start(resume=False)
    try:
        bulk = victim("bulk", preemptible=True, queue="api")
        low_run = await started(engine, "bulk", lambda: submit(engine, "bulk", [bulk]))
        fix = {"id": "fix", "uses": "noop", "priority": "critical", "queue": "api"}
        urgent = await submit(engine, "urgent", [fix])
        async with asyncio.timeout(WAIT_S):
            while (urgent, "fix") not in engine.flow.admission.waiting:
                await asyncio.sleep(0.02)
        assert engine.flow.admission.waiting[(urgent, "fix")][2] == "queue:api"
        assert engine.flow.preemption.stopping == {}  # the token is spent: nobody stopped yet
        assert (await asyncio.wait_for(engine.wait(urgent), WAIT_S)).status == "succeeded"
        assert (await asyncio.wait_for(engine.wait(low_run), WAIT_S)).status == "succeeded"
        (event,) = await events_of(engine, low_run, "task.preempted")
        assert (event.data["by_task_id"], event.data["reason"]) == ("fix", "queue")
    finally:
        await engine.stop(grace_s=0)


async def test_a_critical_task_with_its_queue_free_still_preempts_for_a_slot(
    builds_queue: Engine,
) -> None:
    low_run = await started(
        builds_queue,
        "bulk",
        lambda: submit(builds_queue, "bulk", [victim("bulk", preemptible=True)]),
    )
    fix = {"id": "fix", "uses": "noop", "priority": "critical", "queue": "builds"}
    urgent = await submit(builds_queue, "urgent", [fix])
    assert (await asyncio.wait_for(builds_queue.wait(urgent), WAIT_S)).status == "succeeded"
    assert (await asyncio.wait_for(builds_queue.wait(low_run), WAIT_S)).status == "succeeded"
    (event,) = await events_of(builds_queue, low_run, "task.preempted")
    assert (event.data["reason"], event.data["by_task_id"]) == ("slots", "fix")
    assert builds_queue.flow.admission.throttle.held == {}
