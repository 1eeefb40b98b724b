"""Namespace quotas: input checks, what blocks a task (queue), what refuses a run (refuse)."""

from __future__ import annotations

import pytest

from basir.errors import BasirError
from basir.i18n import render_message, use_locale
from basir.resources.quotas import HOUR_S, Quota, Usage, checked_quota, run_refusal, task_block

NOW = 10_000.0


def test_checked_quota_converts_units_and_keeps_defaults() -> None:
    quota = checked_quota("mobile", {"tasks": 4, "cpu": 1.5, "memory": "2Gi", "runs": 2})
    assert quota == Quota("mobile", tasks=4, cpu=1500, memory=2 << 30, runs=2)
    assert quota.shown()["cpu"] == 1.5
    assert checked_quota("mobile", {"policy": "refuse", "weight": 3}).weight == 3


@pytest.mark.parametrize(
    "body",
    [
        {"tasks": 0},
        {"tasks": True},
        {"runs": "2"},
        {"cpu": -1},
        {"cpu": "many"},
        {"memory": "lots"},
        {"memory": 0},
        {"policy": "drop"},
        {"weight": 0},
        {"weight": 1001},
        {"runs_per_hour": 10_000_000},
        {"burst": 1},
    ],
)
def test_bad_quotas_are_refused(body: dict[str, object]) -> None:
    with pytest.raises(BasirError) as caught:
        checked_quota("mobile", body)
    assert caught.value.code == "quota.invalid"


def test_task_limits_block_with_a_reason() -> None:
    quota = Quota("mobile", tasks=2, cpu=1000, memory=1 << 30)
    assert task_block(quota, Usage(tasks=1), {"cpu": 500}, True, NOW) is None
    block = task_block(quota, Usage(tasks=2), {}, True, NOW)
    assert block is not None and block.limit == "tasks" and block.retry_at is None
    assert (
        render_message(block.reason) == "waiting for quota of namespace mobile: 2/2 tasks running"
    )
    block = task_block(quota, Usage(tasks=1, cpu=600), {"cpu": 500}, True, NOW)
    assert block is not None
    assert render_message(block.reason) == (
        "waiting for quota of namespace mobile: cpu 0.6/1 in use, needs 0.5"
    )
    assert task_block(quota, Usage(tasks=1, cpu=1000), {}, True, NOW) is None  # needs no cpu
    block = task_block(quota, Usage(memory=1 << 29), {"memory": 1 << 30}, True, NOW)
    assert block is not None and block.limit == "memory"


def test_a_request_above_the_quota_itself_says_so() -> None:
    """Not "memory 0/100Mi in use, needs 200Mi", which reads as a wait for others to finish."""
    quota = Quota("qa", cpu=1000, memory=100 << 20)
    block = task_block(quota, Usage(), {"memory": 200 << 20}, True, NOW)
    assert block is not None and block.limit == "memory"
    assert render_message(block.reason) == (
        "waiting for quota of namespace qa: needs 200Mi of memory, more than its quota of 100Mi"
        " allows at once; raise it with basir resources quota set"
    )
    with use_locale("ar"):
        assert "basir resources quota set" in render_message(block.reason)


def test_run_limits_hold_back_only_runs_not_started() -> None:
    quota = Quota("mobile", runs=1, runs_per_hour=2)
    assert task_block(quota, Usage(runs=1), {}, True, NOW) is None  # its run holds the place
    block = task_block(quota, Usage(runs=1), {}, False, NOW)
    assert block is not None and block.limit == "runs"
    starts = (NOW - HOUR_S - 1, NOW - 100, NOW - 50)  # the first is over an hour old
    block = task_block(quota, Usage(runs=0, starts=starts), {}, False, NOW)
    assert block is not None and block.limit == "runs_per_hour"
    assert block.retry_at == NOW - 100 + HOUR_S  # when the older of the two leaves the hour
    assert task_block(quota, Usage(starts=starts[:2]), {}, False, NOW) is None


def test_refuse_policy_refuses_new_runs_only() -> None:
    queue = Quota("mobile", runs=1)
    assert run_refusal(queue, Usage(runs=5), NOW) is None
    refuse = Quota("mobile", runs=1, runs_per_hour=3, policy="refuse")
    assert run_refusal(refuse, Usage(runs=0, starts=(NOW - 10,)), NOW) is None
    error = run_refusal(refuse, Usage(runs=1), NOW)
    assert error is not None and error.code == "quota.exceeded"
    assert "1/1 runs active" in error.message
    error = run_refusal(refuse, Usage(runs=0, starts=(NOW - 30, NOW - 20, NOW - 10)), NOW)
    assert error is not None and error.details[0]["field"] == "runs_per_hour"
    # Under refuse, an accepted run's tasks are not held back by the run limits.
    assert task_block(refuse, Usage(runs=9), {}, False, NOW) is None
