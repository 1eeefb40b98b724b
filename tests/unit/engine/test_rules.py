"""The engine's pure decisions: gates, retries, foreach aggregation, run outcome."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from basir.engine.rules import (
    Gate,
    Upstream,
    after_failure,
    aggregate_instances,
    gate,
    retry_delay_s,
    run_outcome,
    upstream_of,
)
from basir.spec.models import RetryPolicy
from basir.states import RunStatus, TaskStatus


@pytest.mark.parametrize(
    ("when", "upstream", "expected"),
    [
        ("on_success", [], Gate.RUN),
        ("on_success", [Upstream.OK, Upstream.OK], Gate.RUN),
        ("on_success", [Upstream.OK, Upstream.FAILED], Gate.UPSTREAM_FAILED),
        ("on_success", [Upstream.SKIPPED], Gate.SKIP),
        ("on_success", [Upstream.FAILED, Upstream.SKIPPED], Gate.UPSTREAM_FAILED),
        ("on_success", [Upstream.CANCELLED, Upstream.FAILED], Gate.CANCEL),
        ("on_failure", [Upstream.OK], Gate.SKIP),
        ("on_failure", [Upstream.OK, Upstream.FAILED], Gate.RUN),
        ("on_failure", [], Gate.SKIP),
        ("always", [Upstream.FAILED, Upstream.CANCELLED], Gate.RUN),
    ],
)
def test_gate(when: str, upstream: list[Upstream], expected: Gate) -> None:
    assert gate(when, upstream) is expected


def test_continue_on_error_counts_as_ok_for_dependants() -> None:
    assert upstream_of(TaskStatus.FAILED, continue_on_error=True) is Upstream.OK
    assert upstream_of(TaskStatus.FAILED, continue_on_error=False) is Upstream.FAILED
    assert upstream_of(TaskStatus.UPSTREAM_FAILED, continue_on_error=True) is Upstream.FAILED
    assert upstream_of(TaskStatus.SKIPPED, continue_on_error=False) is Upstream.SKIPPED
    assert upstream_of(TaskStatus.CANCELLED, continue_on_error=False) is Upstream.CANCELLED


def test_fixed_and_exponential_backoff_with_cap() -> None:
    fixed = RetryPolicy(max=5, backoff="fixed", delay=2.0)
    assert [retry_delay_s(fixed, n, 0.0) for n in (1, 2, 3)] == [2.0, 2.0, 2.0]
    expo = RetryPolicy(max=9, backoff="exponential", delay=1.0, max_delay=5.0)
    assert [retry_delay_s(expo, n, 0.0) for n in (1, 2, 3, 4, 100)] == [1, 2, 4, 5, 5]


def test_jitter_only_shortens_the_wait() -> None:
    policy = RetryPolicy(max=1, delay=10.0, jitter=0.5)
    assert retry_delay_s(policy, 1, 0.0) == 10.0
    assert retry_delay_s(policy, 1, 0.999) == pytest.approx(5.005)


@given(
    attempts=st.integers(min_value=1, max_value=200),
    retries=st.integers(min_value=0, max_value=100),
    unit=st.floats(min_value=0.0, max_value=0.999999),
)
def test_retry_budget_is_exact(attempts: int, retries: int, unit: float) -> None:
    verdict = after_failure(RetryPolicy(max=retries, backoff="exponential"), attempts, unit)
    if attempts <= retries:
        assert verdict.status is TaskStatus.RETRYING
        assert 0.0 <= verdict.delay_s <= 300.0
    else:
        assert verdict.status is TaskStatus.FAILED


def test_no_policy_means_no_retry() -> None:
    assert after_failure(None, 1, 0.5).status is TaskStatus.FAILED


def test_aggregate_instances() -> None:
    ok, failed = TaskStatus.SUCCEEDED, TaskStatus.FAILED
    assert aggregate_instances([], False) is TaskStatus.SUCCEEDED
    assert aggregate_instances([ok, ok], False) is TaskStatus.SUCCEEDED
    assert aggregate_instances([ok, failed], False) is TaskStatus.FAILED
    assert aggregate_instances([ok, failed], True) is TaskStatus.SUCCEEDED
    assert aggregate_instances([TaskStatus.SKIPPED], False) is TaskStatus.SKIPPED
    assert aggregate_instances([ok, TaskStatus.CANCELLED], False) is TaskStatus.CANCELLED


def test_run_outcome() -> None:
    ok = (TaskStatus.SUCCEEDED, False)
    assert run_outcome([ok, (TaskStatus.SKIPPED, False)], False) is RunStatus.SUCCEEDED
    assert run_outcome([ok, (TaskStatus.FAILED, True)], False) is RunStatus.SUCCEEDED
    assert run_outcome([ok, (TaskStatus.FAILED, False)], False) is RunStatus.FAILED
    assert run_outcome([(TaskStatus.UPSTREAM_FAILED, False)], False) is RunStatus.FAILED
    assert run_outcome([ok], True) is RunStatus.CANCELLED
