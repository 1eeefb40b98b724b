"""Queues, concurrency keys and rate limits on tasks: limits hold, waits say why, slots return."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import resource_funcs

from basir.config import Settings
from basir.coordinator.workflows import apply_workflow
from basir.engine.runtime import Engine
from basir.errors import BasirError
from basir.i18n import render_message
from basir.spec.models import WorkflowSpec
from basir.store.base import Store

GATE = "resource_funcs:gate"
WINDOW = "resource_funcs:window"


@pytest.fixture
async def queued(store: Store, tmp_path: Path) -> AsyncIterator[Engine]:
    """An engine with queues `builds` (1 at a time), `api` (5 starts a second), one gradle slot."""
    settings = Settings(
        home=tmp_path / "home",
        shutdown_grace_s=0.0,
        pools={"gradle": 1},
        queues="builds=1,api=@5/s,wide=4",
    )
    engine = Engine(store, settings, workdir=tmp_path)
    await engine.start(resume=False)
    resource_funcs.GATES.clear()
    yield engine
    await engine.stop(grace_s=0)


async def submit(engine: Engine, tasks: list[dict[str, Any]], **extra: Any) -> str:
    document = {"name": "q", "tasks": tasks, **extra}
    version, _ = await apply_workflow(engine.store, WorkflowSpec.model_validate(document))
    return (await engine.submit(version)).id


def open_gate(name: str) -> None:
    resource_funcs.GATES.setdefault(name, asyncio.Event()).set()


def assert_released(engine: Engine) -> None:
    admission = engine.flow.admission
    assert admission.throttle.held == {}
    assert admission.allocator.held == {}
    assert admission.waiting == {}
    assert all(q["in_use"] == 0 for q in admission.queues_status()["queues"])


async def rows_of(engine: Engine, run_id: str) -> dict[str, Any]:
    return {row.task_id: row for row in await engine.store.get_tasks(run_id)}


def spans(rows: dict[str, Any], ids: list[str]) -> list[tuple[float, float]]:
    return sorted((rows[i].outputs["start"], rows[i].outputs["end"]) for i in ids)


def disjoint(windows: list[tuple[float, float]]) -> bool:
    return all(end <= start for (_s, end), (start, _e) in itertools.pairwise(windows))


async def test_a_queue_serialises_its_tasks_and_the_wait_says_why(queued: Engine) -> None:
    tasks = [
        {"id": "first", "python": GATE, "args": ["b"], "queue": "builds"},
        {"id": "second", "python": GATE, "args": ["b"], "queue": "builds"},
        {"id": "free", "python": GATE, "args": ["f"]},
    ]
    with queued.bus.subscribe(lambda e: e.type == "task.started") as started:
        run_id = await submit(queued, tasks)
        first = {(await asyncio.wait_for(started.get(), 10)).task_id for _ in range(2)}
        assert first == {"first", "free"}  # a task outside the queue is not held back
        rows = await rows_of(queued, run_id)
        assert rows["second"].status == "queued"
        assert render_message(rows["second"].waiting) == (
            f"waiting for queue builds: 1/1 in use by run {run_id} task first"
        )
        status = queued.flow.admission.queues_status()
        builds = next(q for q in status["queues"] if q["name"] == "builds")
        assert builds["holders"] == [{"run_id": run_id, "task_id": "first"}]
        assert [w["task_id"] for w in status["waiting"]] == ["second"]
        assert queued.resources_status()["waiting"] == []  # not a resource wait
        open_gate("f")
        open_gate("b")
        assert (await asyncio.wait_for(started.get(), 10)).task_id == "second"
    assert (await queued.wait(run_id)).status == "succeeded"
    assert (await rows_of(queued, run_id))["second"].waiting is None
    assert_released(queued)


async def test_defaults_queue_holds_every_task(queued: Engine) -> None:
    tasks = [{"id": f"w{i}", "python": WINDOW, "args": [0.05]} for i in range(3)]
    run_id = await submit(queued, tasks, defaults={"queue": "builds"})
    assert (await queued.wait(run_id)).status == "succeeded"
    assert disjoint(spans(await rows_of(queued, run_id), ["w0", "w1", "w2"]))
    assert_released(queued)


async def test_same_key_tasks_serialise_while_other_values_proceed(queued: Engine) -> None:
    task = {
        "id": "build",
        "python": WINDOW,
        "args": [0.2],
        "foreach": ["main", "dev", "main", "dev"],
        "concurrency_key": "branch-${{ item }}",
    }
    run_id = await submit(queued, [task])
    assert (await queued.wait(run_id)).status == "succeeded"
    rows = await rows_of(queued, run_id)
    mains, devs = spans(rows, ["build[0]", "build[2]"]), spans(rows, ["build[1]", "build[3]"])
    assert disjoint(mains) and disjoint(devs)
    assert devs[0][0] < mains[0][1]  # dev ran while main held its key
    assert_released(queued)


async def test_a_key_limit_lets_that_many_hold_it(queued: Engine) -> None:
    task = {"python": GATE, "args": ["k"], "concurrency_key": {"key": "deploy", "limit": 2}}
    tasks = [{"id": f"d{i}", **task} for i in range(3)]
    with queued.bus.subscribe(lambda e: e.type == "task.started") as started:
        run_id = await submit(queued, tasks)
        for _ in range(2):
            await asyncio.wait_for(started.get(), 10)
        await asyncio.sleep(0.05)
        rows = await rows_of(queued, run_id)
        waiting = [r for r in rows.values() if r.status == "queued"]
        assert len(waiting) == 1
        assert waiting[0].waiting is not None
        assert render_message(waiting[0].waiting).startswith(
            "waiting for concurrency key deploy: 2/2 in use by"
        )
        open_gate("k")
    assert (await queued.wait(run_id)).status == "succeeded"
    assert_released(queued)


async def test_rate_limit_spaces_starts_by_its_tokens(queued: Engine) -> None:
    tasks = [{"id": f"c{i}", "python": WINDOW, "args": [0], "queue": "api"} for i in range(8)]
    with queued.bus.subscribe(lambda e: e.type == "task.queued") as seen:
        run_id = await submit(queued, tasks)
        await asyncio.wait_for(seen.get(), 10)
    assert (await queued.wait(run_id)).status == "succeeded"
    rows = await rows_of(queued, run_id)
    starts = sorted(rows[f"c{i}"].outputs["start"] for i in range(8))
    # A bucket of 5 refilled at 5/s: 5 start at once, the 6th to 8th one per 0.2 s.
    assert starts[4] - starts[0] < 0.15
    assert starts[7] - starts[0] >= 0.5
    assert_released(queued)


async def test_a_task_takes_all_its_limits_or_none(queued: Engine) -> None:
    gradle = {"pools": {"gradle": 1}}
    tasks = [
        {"id": "holder", "python": GATE, "args": ["h"], "resources": gradle},
        # Needs the builds queue and gradle: it must not sit on the queue slot while it
        # waits for gradle, so `plain` (builds only) starts meanwhile.
        {"id": "both", "python": WINDOW, "args": [0], "queue": "builds", "resources": gradle},
        {"id": "plain", "python": GATE, "args": ["p"], "queue": "builds", "priority": 0},
    ]
    with queued.bus.subscribe(lambda e: e.type == "task.started") as started:
        run_id = await submit(queued, tasks)
        first = {(await asyncio.wait_for(started.get(), 10)).task_id for _ in range(2)}
        assert first == {"holder", "plain"}
        rows = await rows_of(queued, run_id)
        assert rows["both"].waiting is not None
        assert render_message(rows["both"].waiting).startswith("waiting for")
        open_gate("h")
        open_gate("p")
    assert (await queued.wait(run_id)).status == "succeeded"
    assert_released(queued)


async def test_cancel_and_failure_give_the_slots_back(queued: Engine) -> None:
    tasks = [
        {"id": "a", "python": GATE, "args": ["never"], "queue": "builds"},
        {"id": "b", "python": GATE, "args": ["never"], "queue": "builds", "concurrency_key": "x"},
    ]
    with queued.bus.subscribe(lambda e: e.type == "task.started") as started:
        run_id = await submit(queued, tasks)
        await asyncio.wait_for(started.get(), 10)
    await queued.cancel_run(run_id)
    assert (await queued.wait(run_id)).status == "cancelled"
    assert_released(queued)
    failing = [{"id": "f", "python": GATE, "args": ["bad", True], "queue": "builds"}]
    failing.append({"id": "g", "python": WINDOW, "args": [0], "queue": "builds"})
    open_gate("bad")
    run_id = await submit(queued, failing)
    assert (await queued.wait(run_id)).status == "failed"
    assert (await rows_of(queued, run_id))["g"].status == "succeeded"
    assert_released(queued)


async def test_a_queue_that_is_not_configured_fails_the_run(queued: Engine) -> None:
    run_id = await submit(queued, [{"id": "lost", "uses": "noop", "queue": "nowhere"}])
    final = await queued.wait(run_id)
    assert final.status == "failed"
    assert final.error is not None and "queue nowhere does not exist" in final.error
    assert_released(queued)


async def test_a_crash_gives_the_slots_back(store: Store, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", shutdown_grace_s=0.0, queues="builds=1")
    first = Engine(store, settings, workdir=tmp_path)
    await first.start(resume=False)
    resource_funcs.GATES.clear()
    tasks = [{"id": f"t{i}", "python": GATE, "args": ["r"], "queue": "builds"} for i in range(2)]
    with first.bus.subscribe(lambda e: e.type == "task.started") as started:
        run_id = await submit(first, tasks)
        await asyncio.wait_for(started.get(), 10)
    await first.stop(grace_s=0)  # the holder is interrupted: its slot must not be lost
    open_gate("r")
    second = Engine(store, settings, workdir=tmp_path)
    await second.start(resume=True)
    try:
        assert (await second.wait(run_id)).status == "succeeded"
        assert_released(second)
    finally:
        await second.stop(grace_s=0)


async def test_analytics_show_queues_and_time_throttled(queued: Engine) -> None:
    from basir.coordinator.analytics import scheduler_analytics

    tasks = [{"id": f"w{i}", "python": WINDOW, "args": [0.1], "queue": "builds"} for i in range(3)]
    run_id = await submit(queued, tasks)
    assert (await queued.wait(run_id)).status == "succeeded"
    rows = await rows_of(queued, run_id)
    assert {row.queue for row in rows.values()} == {"builds"}
    throttled = sorted(row.throttled_s or 0.0 for row in rows.values())
    assert throttled[0] == 0.0 and throttled[2] >= 0.15  # the last waited for two others
    stats = await scheduler_analytics(queued.store, 3600.0)
    builds = stats["queues"]["builds"]
    assert builds["tasks"] == 3
    assert builds["throttled_s"] == pytest.approx(sum(throttled), abs=0.01)
    assert stats["classes"]["normal"]["throttled_s"] == builds["throttled_s"]


async def test_a_limit_set_at_run_time_starts_waiters_and_outlives_a_restart(
    queued: Engine, tmp_path: Path
) -> None:
    from basir.engine.queue_limits import set_queue_limit

    tasks = [{"id": f"t{i}", "python": GATE, "args": ["s"], "queue": "builds"} for i in range(2)]
    with queued.bus.subscribe(lambda e: e.type == "task.started") as started:
        run_id = await submit(queued, tasks)
        await asyncio.wait_for(started.get(), 10)
        shown = await set_queue_limit(queued.store, queued.flow.admission, "builds", "2")
        assert (shown["limit"], shown["in_use"]) == ("2", 1)
        await asyncio.wait_for(started.get(), 10)  # the waiting one starts at once
    open_gate("s")
    assert (await queued.wait(run_id)).status == "succeeded"
    with pytest.raises(BasirError) as refused:
        await set_queue_limit(queued.store, queued.flow.admission, "builds", "0")
    assert refused.value.code == "queues.invalid_limit"
    again = Engine(queued.store, Settings(home=tmp_path / "again", queues="builds=1"))
    await again.start(resume=False)
    try:
        assert again.flow.admission.throttle.queues["builds"].slots == 2
    finally:
        await again.stop(grace_s=0)


async def test_a_freed_slot_goes_in_queue_order_and_is_handed_on(queued: Engine) -> None:
    tasks = [
        {"id": "holder", "python": GATE, "args": ["h"], "queue": "builds", "priority": 100},
        {"id": "key_holder", "python": GATE, "args": ["k"], "concurrency_key": "K",
         "priority": 100},
        # First in order, but its key is taken: it must hand the builds slot on, not sit on it.
        {"id": "keyed", "python": WINDOW, "args": [0], "queue": "builds", "concurrency_key": "K",
         "priority": "high"},
        {"id": "low", "python": WINDOW, "args": [0], "queue": "builds", "priority": "low"},
        {"id": "normal", "python": WINDOW, "args": [0], "queue": "builds"},
    ]  # fmt: skip
    with queued.bus.subscribe(lambda e: e.type == "task.started") as started:
        run_id = await submit(queued, tasks)
        first = {(await asyncio.wait_for(started.get(), 10)).task_id for _ in range(2)}
        assert first == {"holder", "key_holder"}
        open_gate("h")
        order = [(await asyncio.wait_for(started.get(), 10)).task_id for _ in range(2)]
        assert order == ["normal", "low"]  # keyed waits for K; the others by priority
        rows = await rows_of(queued, run_id)
        assert rows["keyed"].status == "queued"
        assert "concurrency key K" in render_message(rows["keyed"].waiting or "")
        open_gate("k")
        assert (await asyncio.wait_for(started.get(), 10)).task_id == "keyed"
    assert (await queued.wait(run_id)).status == "succeeded"
    assert_released(queued)


async def test_a_cancelled_waiter_does_not_strand_the_slot(queued: Engine) -> None:
    with queued.bus.subscribe(lambda e: e.type == "task.started") as started:
        holder = await submit(
            queued, [{"id": "h", "python": GATE, "args": ["x"], "queue": "builds"}]
        )
        await asyncio.wait_for(started.get(), 10)
        doomed = await submit(
            queued, [{"id": "d", "uses": "noop", "queue": "builds", "priority": "critical"}]
        )
        later = await submit(queued, [{"id": "l", "uses": "noop", "queue": "builds"}])
        await queued.cancel_run(doomed)
        open_gate("x")
        assert (await queued.wait(later)).status == "succeeded"
    assert (await queued.wait(holder)).status == "succeeded"
    assert (await queued.wait(doomed)).status == "cancelled"
    assert_released(queued)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_random_mixes_of_limits_never_overrun_and_always_finish(
    queued: Engine, seed: int
) -> None:
    """Tasks under random queues, keys and pools: every limit holds at every instant, and the
    run ends (no freed slot is ever left idle while a task waits for it)."""
    import random

    rng = random.Random(seed)
    limits = {"queue:builds": 1, "queue:wide": 4, "key:a": 1, "key:b": 2, "pool:gradle": 1}
    tasks, under = [], {}
    for index in range(40):
        task: dict[str, Any] = {
            "id": f"t{index}",
            "python": WINDOW,
            "args": [rng.choice([0, 0.005, 0.02])],
            "priority": rng.randint(0, 100),
        }
        held = []
        queue = rng.choice([None, "builds", "wide", "wide"])
        if queue:
            task["queue"] = queue
            held.append(f"queue:{queue}")
        key = rng.choice([None, "a", "b"])
        if key:
            task["concurrency_key"] = {"key": key, "limit": limits[f"key:{key}"]}
            held.append(f"key:{key}")
        if rng.random() < 0.3:
            task["resources"] = {"pools": {"gradle": 1}}
            held.append("pool:gradle")
        tasks.append(task)
        under[task["id"]] = held
    run_id = await submit(queued, tasks)
    final = await asyncio.wait_for(queued.wait(run_id), 60)
    assert final.status == "succeeded"
    rows = await rows_of(queued, run_id)
    moments = sorted(
        (rows[t].outputs[edge], 1 if edge == "start" else -1, t)
        for t in under
        for edge in ("start", "end")
    )
    in_use = dict.fromkeys(limits, 0)
    for _time, step, task_id in sorted(moments, key=lambda m: (m[0], m[1])):
        for limit in under[task_id]:
            in_use[limit] += step
            assert in_use[limit] <= limits[limit], (limit, task_id)
    assert_released(queued)


async def test_a_key_rate_spaces_starts_per_value(queued: Engine) -> None:
    task = {
        "id": "call",
        "python": WINDOW,
        "args": [0],
        "foreach": ["a", "a", "a", "a", "b", "b"],
        "concurrency_key": {"key": "${{ item }}", "rate": "2/s"},
    }
    run_id = await submit(queued, [task])
    assert (await queued.wait(run_id)).status == "succeeded"
    rows = await rows_of(queued, run_id)
    a_starts = sorted(rows[f"call[{i}]"].outputs["start"] for i in range(4))
    b_starts = sorted(rows[f"call[{i}]"].outputs["start"] for i in (4, 5))
    # A burst of 2 per value, then one every 0.5 s: a's 4th start ≥ 1 s after its 1st.
    assert a_starts[3] - a_starts[0] >= 0.9
    assert b_starts[1] - b_starts[0] < 0.3  # b's own bucket: not held back by a
    assert_released(queued)


async def test_a_namespace_quota_and_a_queue_hold_together_and_give_back(
    queued: Engine,
) -> None:
    # The quota (one task at a time in `team`) is a wait of its own, not a queue's line: a task
    # it holds back takes no `wide` slot, and each end offers the next one again.
    from basir.engine import resource_policies

    await resource_policies.set_quota(queued, "team", {"tasks": 1})
    tasks = [{"id": f"t{i}", "python": WINDOW, "args": [0.05], "queue": "wide"} for i in range(4)]
    seen: list[tuple[int, set[str]]] = []
    shown: list[tuple[set[str], int]] = []  # pools of waiting tasks; tasks held back by limits
    with queued.bus.subscribe(lambda e: e.type == "task.started") as started:
        run_id = await submit(queued, tasks, namespace="team")
        for _ in range(4):
            await asyncio.wait_for(started.get(), 10)
            queues = queued.flow.admission.queues_status()["queues"]
            wide = next(q for q in queues if q["name"] == "wide")
            waits = {on for _r, _t, on in queued.flow.admission.waiting.values()}
            seen.append((wide["in_use"], waits))
            pools = {w["pool"] for w in queued.resources_status()["waiting"]}
            shown.append((pools, len(queued.flow.admission.queues_status()["waiting"])))
    assert (await asyncio.wait_for(queued.wait(run_id), 10)).status == "succeeded"
    assert all(in_use <= 1 for in_use, _waits in seen)  # the held-back ones took no slot
    assert seen[0][1] == {"quota:team"}  # they wait for the quota, not in the queue's line
    assert shown[0] == ({"quota:team"}, 0)  # shown as GET /resources shows quota waits
    rows = await rows_of(queued, run_id)
    assert disjoint(spans(rows, [f"t{i}" for i in range(4)]))
    assert {rows[f"t{i}"].queue for i in range(4)} == {"wide"}
    assert_released(queued)
