"""Reservation windows: when a reservation holds its amount, as pure time maths.

A reservation is either *once* (`start`..`end`, epoch seconds) or *recurring*: a cron in an
IANA zone opens a window of `duration_s` elapsed seconds at each fire (nightly 02:00 Asia/Riyadh
for 2 h).  Fire times follow the scheduler's DST policy (`scheduler.cron`, defaults): a wall
time that does not exist (spring forward) opens the window at the end of the gap; one that
happens twice (fall back) opens it once, at its first occurrence.  The duration is elapsed
time, so a 2 h window over a DST change still lasts 2 h (it may end at 05:00 on the clock).
Windows are half-open `[start, end)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from basir.scheduler.cron import CronRule, instants

Window = tuple[float, float]
MAX_WALK_STEPS = 100_000  # wall times walked per question: a cron that never fires ends


@dataclass(frozen=True, slots=True)
class Reservation:
    """An amount of one pool kept for one holder (a namespace or a workflow) in its windows.

    `amount` is whole (millicores, bytes, slots, as `resources.fitting`).  Once: `start` and
    `end`; recurring: `cron`, `duration_s` and `timezone`.
    """

    id: str
    pool: str
    amount: int
    holder_kind: str  # namespace | workflow
    holder: str
    start: float | None = None
    end: float | None = None
    cron: str | None = None
    duration_s: float | None = None
    timezone: str = "UTC"
    created_at: float = 0.0
    created_by: str | None = None

    @property
    def recurring(self) -> bool:
        """True for a cron reservation, False for a once (`start`..`end`) one."""
        return self.cron is not None

    def held_by(self, namespace: str, workflow: str) -> bool:
        """True when a task of `workflow` in `namespace` is this reservation's holder."""
        mine = namespace if self.holder_kind == "namespace" else workflow
        return mine == self.holder


def _fires(reservation: Reservation, after: float) -> Iterator[float]:
    """Window starts strictly after `after`, in order (DST policy: shift gaps, fold once)."""
    from cronsim import CronSim

    from basir.spec.cron import cron_fields

    assert reservation.cron is not None
    rule = CronRule(reservation.cron, reservation.timezone)
    zone = ZoneInfo(reservation.timezone)
    wall = datetime.fromtimestamp(after, zone).replace(tzinfo=None)
    sim = CronSim(cron_fields(reservation.cron), wall - timedelta(microseconds=1))
    last = after
    for _step in range(MAX_WALK_STEPS):
        try:
            candidate = next(sim)
        except StopIteration:
            return
        for instant in instants(candidate, zone, rule):
            if instant > last:  # several gap times shift to one instant: open once
                last = instant
                yield instant


def window_at(reservation: Reservation, now: float) -> Window | None:
    """The window holding `now`, or None when the reservation is not in force then."""
    if not reservation.recurring:
        assert reservation.start is not None and reservation.end is not None
        inside = reservation.start <= now < reservation.end
        return (reservation.start, reservation.end) if inside else None
    duration = reservation.duration_s or 0.0
    # The window holding `now` is the first to open in (now - duration, now].
    for start in _fires(reservation, now - duration):
        return (start, start + duration) if start <= now else None
    return None


def next_start(reservation: Reservation, after: float) -> float | None:
    """When the next window opens strictly after `after`, None when none will."""
    if not reservation.recurring:
        assert reservation.start is not None
        return reservation.start if reservation.start > after else None
    return next(_fires(reservation, after), None)


def windows_between(reservation: Reservation, lo: float, hi: float, limit: int) -> list[Window]:
    """Windows overlapping `[lo, hi)`, in order, at most `limit` (+1 to tell it was cut)."""
    if not reservation.recurring:
        assert reservation.start is not None and reservation.end is not None
        overlaps = reservation.start < hi and reservation.end > lo
        return [(reservation.start, reservation.end)] if overlaps else []
    duration = reservation.duration_s or 0.0
    found: list[Window] = []
    for start in _fires(reservation, lo - duration):
        if start >= hi or len(found) > limit:
            break
        found.append((start, start + duration))
    return found
