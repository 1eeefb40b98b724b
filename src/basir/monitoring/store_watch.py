"""The built-in rule "the store is slow": commits slower than `SLOW_COMMIT_S` on average.

Between two evaluations of the alert rules, the commits of the period are the growth of
`basir_store_commit_seconds_count` and their time the growth of its `_sum`: when at least
`MIN_COMMITS` commits took more than `SLOW_COMMIT_S` on average, `store_slow` (severity
`warning`) fires; it resolves at the first period whose commits are fast again.  A period
without commits changes nothing (no news).  A store that does not answer at all is the
`health.store` alert's business.  Pure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from basir.monitoring.alert_rules import FIRING, RESOLVED, STORE_SLOW, Silence, silencing
from basir.monitoring.history import Sample
from basir.store.records import AlertRecord

SLOW_COMMIT_S = 0.5
MIN_COMMITS = 3
_SUM, _COUNT = "basir_store_commit_seconds_sum", "basir_store_commit_seconds_count"


def commit_totals(samples: Iterable[Sample]) -> tuple[float, float] | None:
    """`(seconds, commits)` so far, from the commit-time histogram; None when absent."""
    found = {s.name: s.value for s in samples if s.name in (_SUM, _COUNT)}
    if _SUM not in found or _COUNT not in found:
        return None
    return found[_SUM], found[_COUNT]


def on_commit_totals(
    before: tuple[float, float] | None,
    now_totals: tuple[float, float] | None,
    existing: AlertRecord | None,
    silences: list[Silence],
    now: float,
) -> list[AlertRecord]:
    """Fire or resolve `store_slow` from the commits between two evaluations."""
    if before is None or now_totals is None:
        return []
    commits = now_totals[1] - before[1]
    if commits <= 0:
        return []
    average = (now_totals[0] - before[0]) / commits
    firing = existing is not None and existing.state == FIRING
    if average > SLOW_COMMIT_S and commits >= MIN_COMMITS and not firing:
        fired = AlertRecord(
            id=STORE_SLOW,
            rule=STORE_SLOW,
            state=FIRING,
            severity="warning",
            workflow=None,
            run_id=None,
            fired_at=now,
            updated_at=now,
            data={"average_commit_s": average, "commits": commits},
        )
        fired.silenced_by = silencing(fired, silences, now)
        return [fired]
    if average <= SLOW_COMMIT_S and existing is not None and firing:
        return [dataclasses.replace(existing, state=RESOLVED, resolved_at=now, updated_at=now)]
    return []
