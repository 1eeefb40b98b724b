"""Fire times across DST edges, in Europe/Berlin and America/New_York, by policy."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from basir.scheduler.cron import CronRule, iso_in_zone, next_fire, next_fires


def at(text: str, zone: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


def fires(rule: CronRule, start: str, count: int) -> list[str]:
    return [
        iso_in_zone(t, rule.timezone) for t in next_fires(rule, at(start, rule.timezone), count)
    ]


def test_spring_forward_berlin_fires_once_just_after_the_gap() -> None:
    rule = CronRule("30 2 * * *", "Europe/Berlin")  # 02:30 does not exist on 2026-03-29
    assert fires(rule, "2026-03-28T12:00", 3) == [
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:30:00+02:00",
        "2026-03-31T02:30:00+02:00",
    ]


def test_spring_forward_skip_policy_drops_the_missing_time() -> None:
    rule = CronRule("30 2 * * *", "Europe/Berlin", gap="skip")
    assert fires(rule, "2026-03-28T12:00", 1) == ["2026-03-30T02:30:00+02:00"]


def test_spring_forward_new_york_collapses_every_skipped_time_into_one_fire() -> None:
    rule = CronRule("*/30 * * * *", "America/New_York")  # 02:00-02:59 skipped on 2026-03-08
    assert fires(rule, "2026-03-08T01:00", 4) == [
        "2026-03-08T01:30:00-05:00",
        "2026-03-08T03:00:00-04:00",
        "2026-03-08T03:30:00-04:00",
        "2026-03-08T04:00:00-04:00",
    ]


def test_fall_back_berlin_fires_a_repeated_time_once() -> None:
    rule = CronRule("30 2 * * *", "Europe/Berlin")  # 02:30 happens twice on 2026-10-25
    assert fires(rule, "2026-10-24T12:00", 2) == [
        "2026-10-25T02:30:00+02:00",
        "2026-10-26T02:30:00+01:00",
    ]


def test_fall_back_twice_policy_fires_both_occurrences() -> None:
    rule = CronRule("30 1 * * *", "America/New_York", fold="twice")  # 01:30 twice on 11-01
    assert fires(rule, "2026-10-31T12:00", 3) == [
        "2026-11-01T01:30:00-04:00",
        "2026-11-01T01:30:00-05:00",
        "2026-11-02T01:30:00-05:00",
    ]


def test_fall_back_hourly_stays_monotonic_and_single() -> None:
    rule = CronRule("0 * * * *", "America/New_York")
    times = next_fires(rule, at("2026-11-01T00:00", rule.timezone), 4)
    assert times == sorted(times) and len(set(times)) == 4
    # 01:00 fires once (its first occurrence); the next is 02:00 EST, two real hours later.
    assert [iso_in_zone(t, rule.timezone) for t in times] == [
        "2026-11-01T01:00:00-04:00",
        "2026-11-01T02:00:00-05:00",
        "2026-11-01T03:00:00-05:00",
        "2026-11-01T04:00:00-05:00",
    ]


@pytest.mark.parametrize("cron", ["* * * * * *", "@hourly", "0 0 29 2 *"])
def test_six_fields_and_macros(cron: str) -> None:
    rule = CronRule(cron, "UTC")
    start = at("2026-01-01T00:00:00", "UTC")
    fire = next_fire(rule, start)
    assert fire is not None and fire > start
    assert {"* * * * * *": 1.0, "@hourly": 3600.0}.get(cron, fire - start) == fire - start


def test_riyadh_offset_in_iso() -> None:
    rule = CronRule("0 2 * * *", "Asia/Riyadh")
    assert fires(rule, "2026-05-01T00:00", 1) == ["2026-05-01T02:00:00+03:00"]
