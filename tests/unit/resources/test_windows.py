"""Reservation windows: once and recurring, in a zone, across DST changes; the peak sweep."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from basir.resources.windows import Reservation, next_start, window_at, windows_between

RIYADH = ZoneInfo("Asia/Riyadh")
BERLIN = ZoneInfo("Europe/Berlin")
HOUR = 3600.0


def at(zone: ZoneInfo, *parts: int, fold: int = 0) -> float:
    return datetime(*parts, tzinfo=zone, fold=fold).timestamp()  # type: ignore[misc]


def nightly(cron: str = "0 2 * * *", hours: float = 2, zone: str = "Asia/Riyadh") -> Reservation:
    return Reservation(
        id="r", pool="gradle", amount=1, holder_kind="namespace", holder="release",
        cron=cron, duration_s=hours * HOUR, timezone=zone,
    )  # fmt: skip


def test_once_window_is_half_open() -> None:
    once = Reservation("r", "gradle", 1, "namespace", "release", start=100.0, end=200.0)
    assert window_at(once, 99.9) is None
    assert window_at(once, 100.0) == (100.0, 200.0)
    assert window_at(once, 199.9) == (100.0, 200.0)
    assert window_at(once, 200.0) is None
    assert next_start(once, 50.0) == 100.0
    assert next_start(once, 100.0) is None
    assert windows_between(once, 150.0, 400.0, 10) == [(100.0, 200.0)]
    assert windows_between(once, 200.0, 400.0, 10) == []


def test_nightly_riyadh_window_from_two_to_four_local() -> None:
    reservation = nightly()
    start, end = at(RIYADH, 2026, 12, 2, 2, 0), at(RIYADH, 2026, 12, 2, 4, 0)
    assert window_at(reservation, start - 1) is None
    assert window_at(reservation, start) == (start, end)
    assert window_at(reservation, at(RIYADH, 2026, 12, 2, 3, 59)) == (start, end)
    assert window_at(reservation, end) is None
    # 02:00 Riyadh is 23:00 UTC the day before (UTC+3, no DST).
    assert datetime.fromtimestamp(start, ZoneInfo("UTC")).hour == 23
    assert next_start(reservation, start) == start + 24 * HOUR
    found = windows_between(reservation, start, start + 3 * 24 * HOUR, 10)
    assert found == [(start + d * 24 * HOUR, end + d * 24 * HOUR) for d in range(3)]


def test_a_window_in_the_spring_gap_opens_when_the_gap_ends() -> None:
    # 2026-03-29: Berlin clocks jump 02:00 → 03:00; 02:30 does not exist that night.
    reservation = nightly("30 2 * * *", hours=1, zone="Europe/Berlin")
    gap_end = at(BERLIN, 2026, 3, 29, 3, 0)
    assert window_at(reservation, gap_end) == (gap_end, gap_end + HOUR)
    assert window_at(reservation, gap_end - 1) is None
    assert next_start(reservation, at(BERLIN, 2026, 3, 28, 12, 0)) == gap_end
    assert next_start(reservation, gap_end) == at(BERLIN, 2026, 3, 30, 2, 30)


def test_a_window_on_the_repeated_hour_opens_once_and_lasts_elapsed_time() -> None:
    # 2026-10-25: Berlin clocks go back 03:00 → 02:00; 02:30 happens twice.
    reservation = nightly("30 2 * * *", hours=2, zone="Europe/Berlin")
    first = at(BERLIN, 2026, 10, 25, 2, 30, fold=0)
    second = at(BERLIN, 2026, 10, 25, 2, 30, fold=1)
    assert second - first == HOUR
    assert window_at(reservation, first) == (first, first + 2 * HOUR)
    # Two hours of elapsed time: it ends at 03:30 on the clock (after the repeat), not 04:30.
    assert datetime.fromtimestamp(first + 2 * HOUR, BERLIN).hour == 3
    assert next_start(reservation, first) == at(BERLIN, 2026, 10, 26, 2, 30)
    assert len(windows_between(reservation, first - HOUR, first + 5 * HOUR, 10)) == 1


def test_a_window_across_spring_forward_keeps_its_elapsed_duration() -> None:
    reservation = nightly("0 1 * * *", hours=2, zone="Europe/Berlin")
    start = at(BERLIN, 2026, 3, 29, 1, 0)
    assert window_at(reservation, start + 2 * HOUR - 1) == (start, start + 2 * HOUR)
    assert datetime.fromtimestamp(start + 2 * HOUR, BERLIN).hour == 4  # 01:00 CET + 2 h = 04:00


def test_windows_between_stops_past_the_limit() -> None:
    hourly = nightly("0 * * * *", hours=0.5, zone="UTC")
    assert len(windows_between(hourly, 0.0, 100 * HOUR, 5)) == 6  # limit + 1 tells it was cut
