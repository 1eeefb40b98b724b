"""Pure decisions of the engine: gates, retries, run outcome.  No I/O, no clock, no randomness.

Each function answers one question the runtime asks; the runtime supplies `now` and random
numbers, so every rule is a plain function of its arguments and unit-tested as such.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from basir.spec.models import RetryPolicy
from basir.states import RunStatus, TaskStatus


class Upstream(StrEnum):
    """How a dependency ended, as seen by the tasks that need it."""

    OK = "ok"  # succeeded, or failed with continue_on_error
    FAILED = "failed"  # failed or upstream_failed
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class Gate(StrEnum):
    """What happens to a pending task once every dependency has ended."""

    RUN = "run"
    SKIP = "skip"
    UPSTREAM_FAILED = "upstream_failed"
    CANCEL = "cancel"


def upstream_of(status: TaskStatus, continue_on_error: bool) -> Upstream:
    """Classify a finished dependency for its dependants."""
    if status is TaskStatus.SUCCEEDED:
        return Upstream.OK
    if status is TaskStatus.FAILED:
        return Upstream.OK if continue_on_error else Upstream.FAILED
    if status is TaskStatus.UPSTREAM_FAILED:
        return Upstream.FAILED
    if status is TaskStatus.SKIPPED:
        return Upstream.SKIPPED
    return Upstream.CANCELLED


def gate(when: str, upstream: Iterable[Upstream]) -> Gate:
    """Decide a task's fate from `when:` and how its dependencies ended.

    `on_success` (default) runs only if all dependencies are OK: a failure upstream makes it
    `upstream_failed`, a skip makes it skipped, a cancellation cancels it.  `on_failure` runs
    only if something upstream failed.  `always` runs whatever happened.
    """
    seen = set(upstream)
    if when == "always":
        return Gate.RUN
    if when == "on_failure":
        return Gate.RUN if Upstream.FAILED in seen else Gate.SKIP
    if Upstream.CANCELLED in seen:
        return Gate.CANCEL
    if Upstream.FAILED in seen:
        return Gate.UPSTREAM_FAILED
    if Upstream.SKIPPED in seen:
        return Gate.SKIP
    return Gate.RUN


def retry_delay_s(policy: RetryPolicy, failed_attempts: int, random_unit: float) -> float:
    """Seconds to wait before the next attempt after `failed_attempts` failures (≥ 1).

    Exponential backoff doubles the delay per failure; `max_delay` caps it; `jitter` removes up
    to that share of it at random (`random_unit` in [0, 1)), which spreads retry storms.
    """
    base = policy.delay
    if policy.backoff == "exponential":
        exponent = min(failed_attempts - 1, 60)
        base = policy.delay * math.pow(2.0, exponent)
    delay = min(base, policy.max_delay)
    return max(0.0, delay * (1.0 - policy.jitter * random_unit))


@dataclass(frozen=True, slots=True)
class AttemptVerdict:
    """What follows a failed attempt: retry after `delay_s`, or fail for good."""

    status: TaskStatus
    delay_s: float = 0.0


def after_failure(policy: RetryPolicy | None, attempts: int, random_unit: float) -> AttemptVerdict:
    """A failed attempt becomes `retrying` while the budget lasts, else `failed`.

    `attempts` counts tries made so far, the failed one included; `policy.max` is the number of
    retries after the first attempt.
    """
    if policy is None or attempts > policy.max:
        return AttemptVerdict(TaskStatus.FAILED)
    return AttemptVerdict(TaskStatus.RETRYING, retry_delay_s(policy, attempts, random_unit))


def aggregate_instances(statuses: Iterable[TaskStatus], continue_on_error: bool) -> TaskStatus:
    """The status of a `foreach` parent once all its instances have ended."""
    seen = set(statuses)
    if not seen or seen == {TaskStatus.SKIPPED}:
        return TaskStatus.SUCCEEDED if not seen else TaskStatus.SKIPPED
    if TaskStatus.CANCELLED in seen:
        return TaskStatus.CANCELLED
    if (TaskStatus.FAILED in seen and not continue_on_error) or TaskStatus.UPSTREAM_FAILED in seen:
        return TaskStatus.FAILED
    return TaskStatus.SUCCEEDED


def run_outcome(finished: Iterable[tuple[TaskStatus, bool]], cancel_requested: bool) -> RunStatus:
    """The final status of a run whose tasks have all ended.

    `finished` holds each top-level task's status and its `continue_on_error`.  A cancel request
    wins; then any real failure fails the run; skipped tasks never fail it.
    """
    if cancel_requested:
        return RunStatus.CANCELLED
    for status, continue_on_error in finished:
        if status is TaskStatus.FAILED and not continue_on_error:
            return RunStatus.FAILED
        if status is TaskStatus.UPSTREAM_FAILED:
            return RunStatus.FAILED
        if status is TaskStatus.CANCELLED:
            return RunStatus.CANCELLED
    return RunStatus.SUCCEEDED
