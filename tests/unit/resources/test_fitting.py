"""Pure fitting and the allocator: all-or-nothing, never over-committed, reasons that say why."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from basir.i18n import render_message, use_locale
from basir.resources.allocator import Allocator
from basir.resources.capacity import cpu_millicores, memory_bytes, pool_capacities
from basir.resources.fitting import (
    Shortfall,
    fits,
    never_fits,
    request_of,
    shortfalls,
    show_amount,
)
from basir.spec.models import Resources

POOLS = ("cpu", "memory", "gradle", "gpu")


def test_request_of_uses_whole_amounts() -> None:
    resources = Resources(cpu=0.5, memory="512Mi", pools={"gradle": 1})
    assert request_of(resources) == {"cpu": 500, "memory": 512 << 20, "gradle": 1}
    assert request_of(None) == {}
    assert request_of(Resources(cpu=0.0001)) == {"cpu": 1}  # never a free ride


def test_fractions_add_up_exactly() -> None:
    capacity = {"cpu": 1000}
    in_use = {"cpu": 100 * 3}  # three tasks of 0.1 cpu
    assert fits({"cpu": 700}, capacity, in_use)
    assert shortfalls({"cpu": 701}, capacity, in_use) == [Shortfall("cpu", 701, 300, 1000)]


def test_missing_pool_never_fits() -> None:
    assert never_fits({"gpu": 1}, {"cpu": 1000}) == [Shortfall("gpu", 1, 0, 0)]
    assert never_fits({"cpu": 1000}, {"cpu": 1000}) == []


def test_amounts_are_shown_as_written() -> None:
    assert show_amount("cpu", 500) == "0.5"
    assert show_amount("cpu", 2000) == "2"
    assert show_amount("memory", 512 << 20) == "512Mi"
    assert show_amount("memory", 2 << 30) == "2Gi"
    assert show_amount("memory", 1025 << 20) == "1025Mi"
    assert show_amount("memory", 24683584 << 10) == "23.5Gi"
    assert show_amount("memory", 100) == "100"
    assert show_amount("gradle", 3) == "3"


def test_busy_reason_names_the_holder() -> None:
    allocator = Allocator({"cpu": 2000, "gradle": 1})
    assert allocator.acquire(("r1", "build"), {"cpu": 2000}, now=0.0) is None
    wait = allocator.acquire(("r2", "test"), {"cpu": 500, "gradle": 1}, now=0.0)
    assert wait is not None and wait.pool == "cpu"
    assert render_message(wait.reason) == "waiting for cpu: 2/2 in use by run r1 task build"
    assert allocator.in_use == {"cpu": 2000}  # nothing taken in part: gradle stays free
    with use_locale("ar"):  # the decision is the same in any locale; only showing it differs
        again = allocator.acquire(("r2", "test"), {"cpu": 500}, now=0.0)
        assert again is not None and again.reason == wait.reason
        arabic = render_message(again.reason)
    assert any("\u0600" <= ch <= "\u06ff" for ch in arabic)
    assert allocator.release(("r1", "build"))
    assert not allocator.release(("r1", "build"))
    assert allocator.acquire(("r2", "test"), {"cpu": 500, "gradle": 1}, now=1.0) is None


def test_impossible_request_says_so() -> None:
    allocator = Allocator({"gradle": 1})
    wait = allocator.acquire(("r", "t"), {"gradle": 2}, now=0.0)
    assert wait is not None and "needs 2 but its capacity is 1" in render_message(wait.reason)
    allocator.set_capacity("gradle", 2)
    assert allocator.acquire(("r", "t"), {"gradle": 2}, now=0.0) is None


def test_long_waiter_reserves_its_pools_then_gets_them() -> None:
    allocator = Allocator({"gradle": 2, "cpu": 1000}, reserve_after_s=10)
    allocator.acquire(("r", "small1"), {"gradle": 1}, now=0)
    big = ("r", "big")
    assert allocator.acquire(big, {"gradle": 2}, now=0) is not None
    # Before the bound, smaller tasks pass the waiting big one.
    assert allocator.acquire(("r", "small2"), {"gradle": 1}, now=5) is None
    allocator.release(("r", "small1"))
    assert allocator.acquire(big, {"gradle": 2}, now=11) is not None  # still short: reserves
    assert allocator.reserved_for == big
    allocator.release(("r", "small2"))
    blocked = allocator.acquire(("r", "small3"), {"gradle": 1}, now=12)
    assert blocked is not None and "reserved for run r task big" in render_message(blocked.reason)
    assert allocator.acquire(("r", "other"), {"cpu": 500}, now=12) is None  # other pools pass
    assert allocator.acquire(big, {"gradle": 2}, now=12) is None
    assert allocator.reserved_for is None


def test_forgotten_waiter_drops_its_reservation() -> None:
    allocator = Allocator({"gradle": 1}, reserve_after_s=0)
    allocator.acquire(("r", "a"), {"gradle": 1}, now=0)
    allocator.acquire(("r", "b"), {"gradle": 1}, now=0)
    assert allocator.reserved_for == ("r", "b")
    allocator.forget(("r", "b"))
    allocator.release(("r", "a"))
    assert allocator.acquire(("r", "c"), {"gradle": 1}, now=1) is None


def test_capacity_detection_reads_cgroup_v2(tmp_path: Path) -> None:
    (tmp_path / "cpu.max").write_text("50000 100000\n")
    (tmp_path / "memory.max").write_text("1073741824\n")
    assert cpu_millicores(tmp_path) == 500  # half a core, whatever the affinity
    assert memory_bytes(tmp_path) <= 1 << 30
    (tmp_path / "cpu.max").write_text("max 100000\n")
    (tmp_path / "memory.max").write_text("max\n")
    assert cpu_millicores(tmp_path) >= 1000
    assert memory_bytes(tmp_path) > 0
    capacity = pool_capacities({"gradle": 2, "cpu": 3}, tmp_path)
    assert capacity["gradle"] == 2 and capacity["cpu"] == 3000 and "memory" in capacity


def test_capacity_detection_reads_cgroup_v1_when_there_is_no_v2(tmp_path: Path) -> None:
    """A cgroup v1 machine (older Docker hosts): the container's cpu quota and memory limit,
    not the host's cores and memory."""
    v2 = tmp_path / "v2"
    v2.mkdir()  # no cpu.max, no memory.max
    proc = tmp_path / "cgroup"
    proc.write_text("4:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc\n1:name=systemd:/x\n")
    memory = tmp_path / "memory" / "docker" / "abc"
    memory.mkdir(parents=True)
    (memory / "memory.limit_in_bytes").write_text("536870912\n")
    cpu = tmp_path / "cpu,cpuacct"  # mounted at the container's own cgroup
    cpu.mkdir()
    (cpu / "cpu.cfs_quota_us").write_text("150000\n")
    (cpu / "cpu.cfs_period_us").write_text("100000\n")
    assert memory_bytes(v2, v1_root=tmp_path, proc=proc) == 512 << 20
    assert cpu_millicores(v2, v1_root=tmp_path, proc=proc) == min(1500, 1000 * _cores())
    (cpu / "cpu.cfs_quota_us").write_text("-1\n")  # no quota
    (memory / "memory.limit_in_bytes").write_text("9223372036854771712\n")  # no limit
    assert cpu_millicores(v2, v1_root=tmp_path, proc=proc) == 1000 * _cores()
    assert memory_bytes(v2, v1_root=tmp_path, proc=proc) == memory_bytes(v2, proc=tmp_path / "x")


def _cores() -> int:
    return len(os.sched_getaffinity(0))


_requests = st.dictionaries(st.sampled_from(POOLS), st.integers(0, 6), max_size=4)
_ops = st.lists(
    st.tuples(st.booleans(), st.integers(0, 7), _requests, st.floats(0, 100)), max_size=60
)


@settings(max_examples=300, deadline=None)
@given(
    capacity=st.dictionaries(st.sampled_from(POOLS[:3]), st.integers(0, 8), max_size=3),
    ops=_ops,
    reserve_after=st.floats(0, 50),
)
def test_never_over_commits_and_is_all_or_nothing(
    capacity: dict[str, int],
    ops: list[tuple[bool, int, dict[str, int], float]],
    reserve_after: float,
) -> None:
    allocator = Allocator(capacity, reserve_after_s=reserve_after)
    for is_acquire, who, request, now in ops:
        key = ("run", f"t{who}")
        before = dict(allocator.in_use)
        if is_acquire:
            already = key in allocator.held
            reason = allocator.acquire(key, request, now)
            if reason is None and not already:
                for pool in set(before) | set(request):
                    assert allocator.in_use.get(pool, 0) == before.get(pool, 0) + request.get(
                        pool, 0
                    )
            elif reason is not None:
                assert allocator.in_use == before  # refused: nothing taken
        else:
            allocator.release(key)
        for pool, used in allocator.in_use.items():
            assert 0 <= used <= capacity.get(pool, 0)
            assert used == sum(held.get(pool, 0) for held in allocator.held.values())
    for key in list(allocator.held):
        allocator.release(key)
    assert all(used == 0 for used in allocator.in_use.values())
