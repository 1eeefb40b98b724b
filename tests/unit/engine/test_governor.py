"""The governor with the allocator: reservations and quotas honoured, nothing over-committed."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from basir.engine.governor import Governor
from basir.engine.state import RunState
from basir.i18n import render_message
from basir.resources.allocator import Allocator
from basir.resources.quotas import Quota
from basir.resources.windows import Reservation
from basir.spec.models import WorkflowSpec
from basir.states import RunStatus
from basir.store.records import RunRecord

HOUR = 3600.0


def run_of(run_id: str, namespace: str, workflow: str = "w") -> RunState:
    spec = WorkflowSpec.model_validate({"name": workflow, "namespace": namespace,
                                        "tasks": [{"id": "a", "uses": "noop"}]})  # fmt: skip
    record = RunRecord(id=run_id, workflow=workflow, version=1, status=RunStatus.RUNNING,
                       namespace=namespace)  # fmt: skip
    return RunState(record=record, spec=spec, tasks={})


def window(start: float, end: float, amount: int = 1, holder: str = "release") -> Reservation:
    return Reservation(f"r-{start}-{holder}", "gradle", amount, "namespace", holder, start=start,
                       end=end)  # fmt: skip


def test_a_window_keeps_the_idle_reserved_amount_from_others_only_while_open() -> None:
    governor = Governor()
    governor.set_reservations([window(100.0, 200.0)])
    capacity, free = {"gradle": 2}, {"gradle": 0}
    other, holder = run_of("o", "default"), run_of("h", "release")
    assert governor.check(other, {"gradle": 1}, capacity, free, 50.0) is None  # not yet open
    assert governor.check(other, {"gradle": 1}, capacity, free, 150.0) is None  # 1 shared left
    found = governor.check(other, {"gradle": 2}, capacity, free, 150.0)
    assert found is not None
    pool, block = found
    assert (pool, block.limit, block.retry_at) == ("gradle", "reservation", 200.0)
    assert render_message(block.reason) == (
        "waiting for gradle: 1 reserved for namespace release until 1970-01-01T00:03:20Z"
    )
    assert governor.check(holder, {"gradle": 2}, capacity, free, 150.0) is None
    assert governor.check(other, {"gradle": 2}, capacity, free, 200.0) is None  # closed
    # Once the holder uses its reserved slot, nothing is kept idle any more.
    governor.took(holder, ("h", "a"), {"gradle": 1}, 150.0)
    assert governor.check(other, {"gradle": 1}, capacity, {"gradle": 1}, 150.0) is None
    assert governor.reserved_now(150.0) == {"gradle": 1}
    assert governor.released(("h", "a")) == "release"
    assert governor.check(other, {"gradle": 1}, capacity, free, 150.0) is None
    assert governor.check(other, {"gradle": 2}, capacity, free, 150.0) is not None


def test_quota_counts_follow_takes_releases_and_run_ends() -> None:
    governor = Governor()
    governor.quotas = {"mobile": Quota("mobile", tasks=2, runs=1)}
    first, second = run_of("r1", "mobile"), run_of("r2", "mobile")
    governor.took(first, ("r1", "a"), {"cpu": 500}, 0.0)
    assert governor.usage("mobile", 0.0).runs == 1
    assert governor.check(first, {}, {}, {}, 0.0) is None  # its run already holds the place
    found = governor.check(second, {}, {}, {}, 0.0)
    assert found is not None and found[0] == "quota:mobile" and found[1].limit == "runs"
    governor.took(first, ("r1", "b"), {}, 0.0)
    found = governor.check(first, {}, {}, {}, 0.0)
    assert found is not None and found[1].limit == "tasks"
    governor.released(("r1", "a"))
    assert governor.usage("mobile", 0.0).tasks == 1 and governor.usage("mobile", 0.0).cpu == 0
    first.record.status = RunStatus.SUCCEEDED
    assert governor.check(second, {}, {}, {}, 0.0) is None  # the ended run no longer counts


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), capacity=st.integers(1, 6))
def test_random_arrivals_never_overcommit_nor_take_reserved_idle_amounts(
    seed: int, capacity: int
) -> None:
    """Random reservations (within capacity together), arrivals of random namespaces, releases
    and crashes (a release at a random moment): whatever is admitted fits the pool, and a task
    never takes what another holder's open window keeps idle."""
    rng = random.Random(seed)
    governor, allocator = Governor(), Allocator({"gradle": capacity})
    holders = ["a", "b", "c"]
    reservations, left = [], capacity
    for holder in holders:
        amount = rng.randint(0, left)
        if amount:
            start = rng.uniform(0, 500)
            reservations.append(window(start, start + rng.uniform(10, 300), amount, holder))
            left -= amount
    governor.set_reservations(reservations)
    running: list[tuple[tuple[str, str], RunState]] = []
    for step in range(400):
        now = step * 2.0
        if running and rng.random() < 0.4:
            key, _run = running.pop(rng.randrange(len(running)))
            allocator.release(key)
            governor.released(key)
            continue
        namespace = rng.choice([*holders, "other"])
        run, key = run_of(f"r{step}", namespace), (f"r{step}", "a")
        request = {"gradle": rng.randint(1, capacity)}
        found = governor.check(run, request, allocator.capacity, allocator.in_use, now)
        if found is not None or allocator.acquire(key, request, now) is not None:
            allocator.forget(key)
            continue
        governor.took(run, key, request, now)
        running.append((key, run))
        assert allocator.in_use["gradle"] <= capacity
        idle_of_others = 0
        for reservation, _end in governor.in_force(now):
            if reservation.holder != namespace:
                used = sum(allocator.held[k]["gradle"] for k, r in running
                           if r.record.namespace == reservation.holder)  # fmt: skip
                idle_of_others += max(0, reservation.amount - used)
        assert allocator.in_use["gradle"] + idle_of_others <= capacity
