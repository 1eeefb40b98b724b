"""Reservations: checking a new one, refusing over-commitment, and what others may not use.

Pure functions over `windows.Reservation`.  A new reservation is refused when, at any instant
of the coming year (`HORIZON_S`), the reservations of its pool together would hold more than
the pool's capacity (`reservation.overcommitted`).  Inside a window, the reserved amount the
holder does not use is *withheld* from everyone else (`withheld`); the holder itself may use
it and, beyond it, the pool's shared part like anyone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from itertools import pairwise

from basir.errors import BasirError, NotFoundError
from basir.i18n import _
from basir.resources.fitting import CPU, SIZED, show_amount, to_amount
from basir.resources.windows import Reservation, window_at, windows_between
from basir.scheduler.cron import utc_iso
from basir.spec.cron import cron_problem, timezone_problem
from basir.spec.units import parse_duration, parse_size

HORIZON_S = 366 * 86_400.0  # over-commitment is checked this far ahead
MAX_WINDOWS_PER_YEAR = 1_500  # a recurring reservation opens at most this often (4× a day)
MAX_RESERVATIONS = 200
MAX_DURATION_S = 366 * 86_400.0
MAX_AHEAD_S = 10 * 366 * 86_400.0  # a reservation once starts at most this far ahead
HOLDER_KINDS = ("namespace", "workflow")


@dataclass(frozen=True, slots=True)
class ReservationInput:
    """A reservation as asked for (API body, CLI options), before it is checked."""

    pool: str
    amount: float | str
    namespace: str | None = None
    workflow: str | None = None
    start: str | float | None = None
    end: str | float | None = None
    cron: str | None = None
    duration: str | float | None = None
    timezone: str = "UTC"


def _invalid(message: str) -> BasirError:
    return BasirError("reservation.invalid", message)


def _instant(value: str | float, field: str) -> float:
    """Epoch seconds from a number or an ISO 8601 time that names its offset."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise _invalid(
            _(
                "{field} must be a time with its offset, e.g. 2026-12-02T02:00:00+03:00, got"
                " {value}",
                field=field,
                value=value,
            )
        )
    return moment.timestamp()


def _amount(pool: str, value: float | str, capacity: Mapping[str, int]) -> int:
    if pool not in capacity:
        message = _(
            "pool {pool} does not exist; pools: {pools}", pool=pool, pools=", ".join(capacity)
        )
        raise NotFoundError("resources.pool_not_found", message)
    amount: int | None = None
    try:
        if pool in SIZED:  # memory, disk: a size such as 4Gi, or bytes
            amount = parse_size(value)
        elif not isinstance(value, bool):
            number = float(value)
            if pool == CPU or number.is_integer():
                amount = to_amount(pool, number)
    except (ValueError, OverflowError):
        amount = None
    if amount is None or not 0 < amount <= capacity[pool]:
        raise BasirError(
            "reservation.invalid_amount",
            _(
                "{value} is not an amount of pool {pool} to reserve: give more than 0 and at"
                " most its capacity {total} (cores for cpu, a size for memory, whole slots)",
                value=value,
                pool=pool,
                total=show_amount(pool, capacity[pool]),
            ),
        )
    return amount


def _holder(given: ReservationInput) -> tuple[str, str]:
    named = [
        (kind, value)
        for kind, value in zip(HOLDER_KINDS, (given.namespace, given.workflow), strict=True)
        if value
    ]
    if len(named) != 1:
        raise _invalid(_("name exactly one holder: a namespace or a workflow"))
    return named[0]


def _timing(given: ReservationInput, now: float) -> dict[str, object]:
    once = given.start is not None or given.end is not None
    recurring = given.cron is not None or given.duration is not None
    if once == recurring:
        raise _invalid(_("give either from and to (once) or cron and duration (recurring)"))
    if once:
        if given.start is None or given.end is None:
            raise _invalid(_("a reservation once needs both from and to"))
        start, end = _instant(given.start, "from"), _instant(given.end, "to")
        if not start < end <= start + MAX_DURATION_S:
            raise _invalid(_("to must come after from, and within a year of it"))
        if not (now < end and start < now + MAX_AHEAD_S):
            raise _invalid(
                _("a reservation once must end in the future and start within ten years")
            )
        return {"start": start, "end": end}
    if given.cron is None or given.duration is None:
        raise _invalid(_("a recurring reservation needs both cron and duration"))
    problem = cron_problem(given.cron) or timezone_problem(given.timezone)
    if problem is not None:
        raise _invalid(problem)
    try:
        duration = parse_duration(given.duration)
    except ValueError as exc:
        raise _invalid(str(exc)) from None
    if not 0 < duration <= MAX_DURATION_S:
        raise _invalid(_("duration must be more than 0 and at most a year"))
    return {"cron": given.cron, "duration_s": duration, "timezone": given.timezone}


def checked(
    given: ReservationInput, capacity: Mapping[str, int], *, id: str, now: float, by: str | None
) -> Reservation:
    """A valid reservation from `given`, or a localised `BasirError` saying what is wrong.

    Codes: `reservation.invalid` (holder, times, cron, zone, duration),
    `reservation.invalid_amount`, `resources.pool_not_found`.
    """
    kind, holder = _holder(given)
    amount = _amount(given.pool, given.amount, capacity)
    timing = _timing(given, now)
    made = Reservation(
        id=id,
        pool=given.pool,
        amount=amount,
        holder_kind=kind,
        holder=holder,
        created_at=now,
        created_by=by,
        **timing,  # type: ignore[arg-type]
    )
    ahead = windows_between(made, now, now + HORIZON_S, MAX_WINDOWS_PER_YEAR)
    if made.recurring and len(ahead) > MAX_WINDOWS_PER_YEAR:
        raise _invalid(
            _(
                "cron {cron} opens more than {limit} windows a year; reservations are for"
                " windows of hours, not minutes",
                cron=given.cron,
                limit=MAX_WINDOWS_PER_YEAR,
            )
        )
    # A window still open when the next opens would hold the amount twice over, in the count
    # of what others may reserve beside it, and say it ends when the first one does.
    if made.recurring and any(after[0] < before[1] for before, after in pairwise(ahead)):
        raise _invalid(
            _(
                "windows of cron {cron} would overlap: a duration of {duration} is longer than"
                " the time between two of them",
                cron=given.cron,
                duration=given.duration,
            )
        )
    return made


DAY_S = 86_400.0


@lru_cache(maxsize=1024)
def _year_from(reservation: Reservation, day: int) -> tuple[tuple[float, float], ...]:
    """Windows from the start of `day` (days since the epoch) for a year and a day: walked once
    per reservation and day (cron walks are slow).  A checked reservation opens at most
    `MAX_WINDOWS_PER_YEAR` times a year, so twice that is never cut."""
    lo = day * DAY_S
    limit = 2 * MAX_WINDOWS_PER_YEAR
    return tuple(windows_between(reservation, lo, lo + HORIZON_S + DAY_S, limit))


def year_windows(reservation: Reservation, now: float) -> list[tuple[float, float]]:
    """The reservation's windows overlapping `[now, now + HORIZON_S)` (cut past the limit)."""
    cached = _year_from(reservation, int(now // DAY_S))
    return [(s, e) for s, e in cached if e > now and s < now + HORIZON_S]


def refuse_overcommit(
    new: Reservation, existing: Iterable[Reservation], capacity: Mapping[str, int], now: float
) -> None:
    """Raise `reservation.overcommitted` when `new` with the pool's others exceeds capacity.

    Checked from `now` for a year, only where `new` holds (others' peaks elsewhere are theirs).
    """
    mine = year_windows(new, now)
    if not mine:
        return
    # One sweep over every window edge, ends before starts at the same instant (half-open).
    edges: list[tuple[float, int, int, int]] = []  # (instant, is_start, others' delta, mine)
    for m_start, m_end in mine:
        edges += [(m_start, 1, 0, 1), (m_end, 0, 0, -1)]
    for other in existing:
        if other.pool != new.pool or other.id == new.id:
            continue
        for start, end in year_windows(other, now):
            edges += [(start, 1, other.amount, 0), (end, 0, -other.amount, 0)]
    edges.sort()
    total, others, open_windows = capacity.get(new.pool, 0), 0, 0
    for instant, _is_start, delta, mine_delta in edges:
        others += delta
        open_windows += mine_delta
        if open_windows > 0 and others + new.amount > total:
            raise BasirError(
                "reservation.overcommitted",
                _(
                    "reserving {amount} of {pool} would hold {held} at {when}, more than its"
                    " capacity {total}; shorten or move the window, or lower the amount",
                    amount=show_amount(new.pool, new.amount),
                    pool=new.pool,
                    held=show_amount(new.pool, others + new.amount),
                    when=utc_iso(float(int(instant))),
                    total=show_amount(new.pool, total),
                ),
            )


Holder = tuple[str, str]  # (holder_kind, holder)


def in_force(reservations: Iterable[Reservation], now: float) -> list[tuple[Reservation, float]]:
    """The reservations whose window holds `now`, each with when that window ends."""
    found = []
    for reservation in reservations:
        window = window_at(reservation, now)
        if window is not None:
            found.append((reservation, window[1]))
    return found


def withheld(
    active: Iterable[Reservation],
    namespace: str,
    workflow: str,
    used: Mapping[tuple[str, str, str], int],
) -> dict[str, dict[Holder, int]]:
    """Per pool, the reserved amounts other holders do not use now: what `namespace/workflow`
    may not take.  `used` maps `(holder_kind, holder, pool)` to what that holder holds."""
    reserved: dict[tuple[str, str, str], int] = {}
    for reservation in active:
        if reservation.held_by(namespace, workflow):
            continue
        key = (reservation.holder_kind, reservation.holder, reservation.pool)
        reserved[key] = reserved.get(key, 0) + reservation.amount
    kept: dict[str, dict[Holder, int]] = {}
    for (kind, holder, pool), amount in reserved.items():
        idle = amount - used.get((kind, holder, pool), 0)
        if idle > 0:
            kept.setdefault(pool, {})[(kind, holder)] = idle
    return kept
