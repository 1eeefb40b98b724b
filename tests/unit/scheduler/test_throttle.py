"""Throttle and run limits as pure decisions: queue slots, key slots, token buckets, run caps."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from basir.config import QueueLimit, Settings, parse_queue_limit
from basir.i18n import render_message
from basir.scheduler.run_limits import RunLimits, RunNeed
from basir.scheduler.throttle import Need, Throttle, TokenBucket, UnknownQueueError


def throttle(**queues: str) -> Throttle:
    return Throttle({name: parse_queue_limit(text) for name, text in queues.items()})


def test_queue_slots_are_all_or_nothing_with_the_key() -> None:
    limits = throttle(builds="1")
    assert limits.check(("r", "a"), Need("builds", "main"), 0.0) is None
    limits.take(("r", "a"), Need("builds", "main"), 0.0)
    blocked = limits.check(("r", "b"), Need("builds", "dev"), 1.0)
    assert blocked is not None and blocked.on == "queue:builds"
    assert render_message(blocked.reason) == "waiting for queue builds: 1/1 in use by run r task a"
    # Checking takes nothing: the key "dev" is still free for a task outside the queue.
    assert limits.check(("r", "c"), Need(None, "dev"), 1.0) is None
    blocked = limits.check(("r", "d"), Need(None, "main"), 1.0)
    assert blocked is not None and blocked.on == "key:main"
    assert limits.release(("r", "a")) == ["queue:builds", "key:main"]
    assert limits.check(("r", "b"), Need("builds", "dev"), 2.0) is None
    assert limits.take(("r", "b"), Need("builds", "dev"), 3.0) == 1.0  # held back 1.0 → 2.0
    assert limits.release(("r", "missing")) == []


def test_key_limit_and_holder_counts() -> None:
    limits = throttle()
    for index in range(3):
        assert limits.check(("r", f"t{index}"), Need(None, "k", 3), 0.0) is None
        limits.take(("r", f"t{index}"), Need(None, "k", 3), 0.0)
    blocked = limits.check(("r", "t3"), Need(None, "k", 3), 0.0)
    assert blocked is not None
    assert render_message(blocked.reason) == (
        "waiting for concurrency key k: 3/3 in use by run r task t0 and 2 more"
    )
    assert limits.snapshot()["keys"][0]["in_use"] == 3


def test_unknown_queue_is_an_error_not_a_wait() -> None:
    with pytest.raises(UnknownQueueError, match="queue ghost does not exist; queues: builds"):
        throttle(builds="1").check(("r", "a"), Need("ghost"), 0.0)


def test_rate_limit_waits_for_the_next_token() -> None:
    limits = throttle(api="@2/s")
    for now in (0.0, 0.1):
        assert limits.check(("r", f"{now}"), Need("api"), now) is None
        limits.take(("r", f"{now}"), Need("api"), now)
        limits.release(("r", f"{now}"))  # a token is spent, never given back
    blocked = limits.check(("r", "c"), Need("api"), 0.1)
    assert blocked is not None and blocked.on == "rate:api"
    assert render_message(blocked.reason) == "rate limited on queue api: at most 2/s"
    assert blocked.retry_after_s == pytest.approx(0.4)  # 0.1 s refilled 0.2 of a token
    assert limits.check(("r", "c"), Need("api"), 0.6) is None


@settings(max_examples=200, deadline=None)
@given(
    rate=st.integers(1, 20),
    per_s=st.sampled_from([1.0, 60.0]),
    gaps=st.lists(st.floats(0.0, 2.0), min_size=1, max_size=60),
)
def test_a_bucket_never_allows_more_than_its_rate(
    rate: int, per_s: float, gaps: list[float]
) -> None:
    """Over any window of length `per_s`, starts ≤ rate + rate (burst plus refill)."""
    bucket = TokenBucket(rate, per_s, 0.0)
    now, starts = 0.0, []
    for gap in gaps:
        now += gap * per_s / rate
        if bucket.wait_s(now) == 0.0:
            bucket.take(now)
            starts.append(now)
    for index, start in enumerate(starts):
        within = [s for s in starts[index:] if s < start + per_s]
        assert len(within) <= 2 * rate
    assert bucket.tokens >= -1e-9


def test_queue_settings_syntax() -> None:
    queues = Settings(queues="builds=1, l2-api=4@10/s, mail=@60/m").queues
    assert queues == {
        "builds": QueueLimit(slots=1),
        "l2-api": QueueLimit(slots=4, rate=10, per_s=1.0),
        "mail": QueueLimit(rate=60, per_s=60.0),
    }
    assert [q.describe() for q in queues.values()] == ["1", "4@10/s", "@60/m"]
    assert Settings(queues={"a": 2, "b": "@5/h"}).queues["b"] == QueueLimit(rate=5, per_s=3600.0)
    for bad in ("builds", "builds=", "builds=0", "x=@0/s", "x=1@2/d", "X=1", "x=@", "x=1@/s"):
        with pytest.raises(ValueError, match="is not name=slots"):
            Settings(queues=bad)


def test_run_limits_cap_active_runs_and_keys_per_workflow() -> None:
    limits = RunLimits()
    capped = RunNeed("ci", max_active=2)
    for run in ("r1", "r2"):
        assert limits.check(run, capped) is None
        limits.take(run, capped)
    assert render_message(limits.check("r3", capped)) == (
        "waiting for a run of ci to end: 2/2 active (max_active_runs), the first r1"
    )
    assert limits.check("other", RunNeed("cd", max_active=2)) is None  # another workflow
    assert limits.release("r1") == "ci"
    assert limits.check("r3", capped) is None
    keyed = RunNeed("ci", key="main")
    limits.take("k1", keyed)
    assert render_message(limits.check("k2", keyed)) == (
        "waiting for concurrency key main: 1/1 in use by run k1"
    )
    assert limits.check("k3", RunNeed("ci", key="dev")) is None
    assert limits.check("k4", RunNeed("cd", key="main")) is None  # keys count per workflow
    assert limits.active("ci") == 2


def test_time_throttled_adds_up_across_waits_and_excludes_other_waits() -> None:
    limits = throttle(builds="1")
    limits.take(("r", "holder"), Need("builds"), 0.0)
    assert limits.check(("r", "t"), Need("builds"), 1.0) is not None  # held back from 1.0
    limits.release(("r", "holder"))
    assert limits.check(("r", "t"), Need("builds"), 4.0) is None  # 3 s; then waits for cpu
    assert limits.take(("r", "t"), Need("builds"), 10.0) == 3.0  # the cpu wait is not counted
    limits.release(("r", "t"))
    assert limits.take(("r", "t"), Need("builds"), 11.0) == 0.0  # a new attempt starts at 0


def test_wait_lines_keep_queue_order_and_skip_stale_entries() -> None:
    from basir.scheduler.wait_lines import WaitLines

    lines = WaitLines()
    lines.add("queue:q", (1, 0.0, 5.0, 2), ("r", "late"))
    lines.add("queue:q", (0, 0.0, 9.0, 1), ("r", "first"))
    lines.add("queue:q", None, ("r", "outside"))  # no order key: last
    lines.add("queue:q", (1, 0.0, 1.0, 3), ("r", "gone"))
    gone = {("r", "gone")}
    assert lines.pop("queue:q", lambda key: key not in gone) == ("r", "first")
    assert lines.pop("queue:q", lambda key: key not in gone) == ("r", "late")  # gone skipped
    assert lines.pop("queue:q", lambda key: True) == ("r", "outside")
    assert lines.pop("queue:q", lambda key: True) is None
    assert len(lines) == 0 and lines.pop("key:k", lambda key: True) is None


def test_a_key_rate_limits_each_value_apart() -> None:
    limits = throttle()
    paced = Need(None, "api", None, (2, 1.0))  # no cap on holders, 2 starts a second
    for index in range(2):
        assert limits.check(("r", f"a{index}"), paced, 0.0) is None
        limits.take(("r", f"a{index}"), paced, 0.0)
    blocked = limits.check(("r", "a2"), paced, 0.0)
    assert blocked is not None and blocked.on == "krate:api"
    assert render_message(blocked.reason) == "rate limited on concurrency key api: at most 2/s"
    assert blocked.retry_after_s == pytest.approx(0.5)
    other = Need(None, "web", None, (2, 1.0))
    assert limits.check(("r", "w"), other, 0.0) is None  # another value has its own bucket
    assert limits.tokens("krate:api", 0.25) == 0 and limits.token_s("krate:api") == 0.5
    assert limits.check(("r", "a2"), paced, 0.5) is None
