"""Reservations: input checks, over-commitment refused, what others may not use in a window."""

from __future__ import annotations

import itertools
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from basir.errors import BasirError
from basir.resources.reservations import (
    ReservationInput,
    checked,
    in_force,
    refuse_overcommit,
    withheld,
)
from basir.resources.windows import Reservation

CAPACITY = {"cpu": 4000, "memory": 8 << 30, "disk": 100 << 30, "gradle": 2}
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=ZoneInfo("UTC")).timestamp()
IDS = itertools.count()
NIGHTLY = {"cron": "0 2 * * *", "duration": "2h", "timezone": "Asia/Riyadh"}


def make(**fields: object) -> Reservation:
    given = ReservationInput(**{"pool": "gradle", "amount": 1, "namespace": "release", **fields})  # type: ignore[arg-type]
    return checked(given, CAPACITY, id=f"rsv-{next(IDS)}", now=NOW, by="ops")


def code_of(**fields: object) -> str:
    with pytest.raises(BasirError) as caught:
        make(**fields)
    return caught.value.code


def test_checked_reservations_hold_their_amounts_and_times() -> None:
    once = make(start="2026-12-02T02:00:00+03:00", end="2026-12-02T04:00:00+03:00")
    assert (once.start, once.end) == (NOW + 11 * 3600, NOW + 13 * 3600)  # 23:00 UTC
    assert (once.holder_kind, once.holder, once.created_by) == ("namespace", "release", "ops")
    recurring = make(workflow="nightly", namespace=None, **NIGHTLY)
    assert (recurring.cron, recurring.duration_s, recurring.holder_kind) == (
        "0 2 * * *", 7200.0, "workflow",
    )  # fmt: skip
    assert make(pool="cpu", amount=0.5, **NIGHTLY).amount == 500
    assert make(pool="memory", amount="1Gi", **NIGHTLY).amount == 1 << 30
    assert make(pool="disk", amount="10Gi", **NIGHTLY).amount == 10 << 30  # a size, as memory
    weekly = make(cron="0 2 * * 5", duration="3d", timezone="Asia/Riyadh")  # Fri to Mon: fine
    assert weekly.duration_s == 3 * 86400


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"namespace": None}, "reservation.invalid"),  # no holder
        ({"workflow": "w"}, "reservation.invalid"),  # two holders
        ({}, "reservation.invalid"),  # neither once nor recurring
        ({"start": "2026-12-02T02:00:00+03:00"}, "reservation.invalid"),  # no end
        ({"start": "2026-12-02T02:00:00", "end": "2026-12-02T04:00:00"}, "reservation.invalid"),
        ({"start": 200.0, "end": 100.0}, "reservation.invalid"),
        ({"start": 100.0, "end": 200.0}, "reservation.invalid"),  # over long ago
        ({"start": 1e300, "end": 1e300 + 1e290}, "reservation.invalid"),  # too far ahead
        ({"amount": float("inf"), "pool": "cpu", **NIGHTLY}, "reservation.invalid_amount"),
        ({"start": 1.0, "end": 2.0, "cron": "0 2 * * *"}, "reservation.invalid"),
        ({"cron": "0 25 * * *", "duration": "1h"}, "reservation.invalid"),
        ({"cron": "0 2 * * *", "duration": "1h", "timezone": "Mars/Base"}, "reservation.invalid"),
        ({"cron": "0 2 * * *", "duration": "forever"}, "reservation.invalid"),
        ({"cron": "* * * * *", "duration": "30s"}, "reservation.invalid"),  # too frequent
        ({"amount": 3, **NIGHTLY}, "reservation.invalid_amount"),  # above capacity
        ({"amount": 0, **NIGHTLY}, "reservation.invalid_amount"),
        ({"amount": 1.5, **NIGHTLY}, "reservation.invalid_amount"),  # whole slots
        ({"pool": "gpu", **NIGHTLY}, "resources.pool_not_found"),
        ({"cron": "0 2 * * *", "duration": "25h"}, "reservation.invalid"),  # windows overlap
        ({"cron": "0 2 * * 1-5", "duration": "2d"}, "reservation.invalid"),  # Mon→Tue overlap
    ],
)
def test_bad_reservations_are_refused_with_a_stable_code(
    fields: dict[str, object], code: str
) -> None:
    assert code_of(**fields) == code


def test_overlapping_reservations_beyond_capacity_are_refused() -> None:
    first = make(amount=2, start="2026-12-02T02:00:00+03:00", end="2026-12-02T03:00:00+03:00")
    # Touching windows are fine: half-open, one ends as the other begins.
    after = make(amount=2, start="2026-12-02T03:00:00+03:00", end="2026-12-02T05:00:00+03:00")
    refuse_overcommit(after, [first], CAPACITY, NOW)
    # Within capacity together: fine.
    half = make(amount=1, start=first.start, end=first.end)
    refuse_overcommit(make(amount=1, **NIGHTLY), [half], CAPACITY, NOW)
    # The nightly window overlaps the once one on 2 December: 2 + 1 > 2.
    nightly = make(**NIGHTLY)
    with pytest.raises(BasirError) as caught:
        refuse_overcommit(nightly, [first], CAPACITY, NOW)
    assert caught.value.code == "reservation.overcommitted"
    assert "capacity 2" in caught.value.message
    # Another pool, or a window that never meets it, is no conflict.
    refuse_overcommit(make(pool="cpu", amount=4, **NIGHTLY), [first], CAPACITY, NOW)
    daytime = make(amount=2, cron="0 12 * * *", duration="1h", timezone="Asia/Riyadh")
    refuse_overcommit(daytime, [first, nightly], CAPACITY, NOW)


def test_withheld_is_what_other_holders_keep_idle() -> None:
    nightly = make(amount=2, **NIGHTLY)
    opened = datetime(2026, 12, 2, 2, 30, tzinfo=ZoneInfo("Asia/Riyadh")).timestamp()
    active = [r for r, _end in in_force([nightly], opened)]
    assert active == [nightly]
    assert in_force([nightly], NOW) == []
    # Nobody of `release` uses gradle: both slots are kept from others, none from `release`.
    assert withheld(active, "default", "w", {}) == {"gradle": {("namespace", "release"): 2}}
    assert withheld(active, "release", "w", {}) == {}
    # The holder uses one: only the idle one is kept; using both or more keeps nothing.
    used = {("namespace", "release", "gradle"): 1}
    assert withheld(active, "default", "w", used) == {"gradle": {("namespace", "release"): 1}}
    used = {("namespace", "release", "gradle"): 3}
    assert withheld(active, "default", "w", used) == {}
