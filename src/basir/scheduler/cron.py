"""Next fire times of a cron in a time zone, with an explicit DST policy: pure functions.

cronsim walks *wall-clock* times (naive datetimes, in the schedule's zone); this module maps
each wall time to the instants it names, by the schedule's policy, so DST edges are decided
here in one place and never by cronsim's defaults or a host's local zone:

- `gap` (spring forward: the wall time does not exist): `shift` (default) fires once at the
  first instant after the gap — several skipped times collapse into that one fire; `skip`
  drops them.
- `fold` (fall back: the wall time happens twice): `once` (default) fires at its first
  occurrence only; `twice` fires at both.

With `once`, instants grow with wall time, so a walk from `after` stops at its first
candidate; `twice` looks back two hours, the longest DST shift in the tz database, for the
second occurrence of a repeated wall time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from basir.spec.cron import cron_fields

# Wall times walked at most per answer: a cron with no fire in reach (e.g. 30 February) ends.
MAX_WALK_STEPS = 200_000
FOLD_LOOKBACK = timedelta(hours=2)
NEXT_FIRE_CACHE = 65_536  # (rule, instant) answers kept: a few MB at most


@dataclass(frozen=True, slots=True)
class CronRule:
    """What decides a schedule's fire times: cron, IANA zone and the DST policy."""

    cron: str
    timezone: str = "UTC"
    gap: str = "shift"  # shift | skip
    fold: str = "once"  # once | twice


def _wall(instant: float, zone: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(instant, zone).replace(tzinfo=None)


def _gap_end(lo: float, hi: float, zone: ZoneInfo) -> float:
    """The first whole second in (lo, hi] whose UTC offset is the one at `hi` (bisection)."""
    target = datetime.fromtimestamp(hi, zone).utcoffset()
    low, high = int(lo), int(hi)
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == target:
            high = middle
        else:
            low = middle
    return float(high)


def instants(wall: datetime, zone: ZoneInfo, rule: CronRule) -> list[float]:
    """The instants (epoch seconds) one wall time fires at under `rule`'s DST policy."""
    first = wall.replace(tzinfo=zone, fold=0).timestamp()
    second = wall.replace(tzinfo=zone, fold=1).timestamp()
    if _wall(first, zone) != wall:  # inside a gap: this wall time never shows on a clock
        if rule.gap == "skip":
            return []
        return [_gap_end(min(first, second), max(first, second), zone)]
    if first != second and rule.fold == "twice":
        return [first, second]
    return [first]


def _walls(rule: CronRule, start: datetime) -> Iterator[datetime]:
    from cronsim import CronSim

    sim = CronSim(cron_fields(rule.cron), start)
    for _step in range(MAX_WALK_STEPS):
        try:
            yield next(sim)
        except StopIteration:
            return


@lru_cache(maxsize=NEXT_FIRE_CACHE)
def next_fire(rule: CronRule, after: float) -> float | None:
    """The first fire strictly after the instant `after`, or None when there is none."""
    zone = ZoneInfo(rule.timezone)
    start = _wall(after, zone)
    if rule.fold == "twice":
        start -= FOLD_LOOKBACK
    best: float | None = None
    for wall in _walls(rule, start - timedelta(microseconds=1)):
        found = instants(wall, zone, rule)
        if best is not None and (not found or found[0] > best):
            # Later wall times only map to later instants: nothing left can beat `best`.
            if found:
                break
            continue
        for instant in found:
            if instant > after and (best is None or instant < best):
                best = instant
        if best is not None and rule.fold != "twice":
            break
    return best


def next_fires(rule: CronRule, after: float, count: int, until: float | None = None) -> list[float]:
    """Up to `count` fires after `after` (and not after `until`), in order."""
    fires: list[float] = []
    current = after
    while len(fires) < count:
        fire = next_fire(rule, current)
        if fire is None or (until is not None and fire > until):
            break
        fires.append(fire)
        current = fire
    return fires


@lru_cache(maxsize=4096)  # a tick's fires share their instants: format each once
def iso_in_zone(instant: float, timezone: str) -> str:
    """ISO 8601 with the zone's own offset: 02:00 in Asia/Riyadh is `…T02:00:00+03:00`."""
    return datetime.fromtimestamp(instant, ZoneInfo(timezone)).isoformat()


def utc_iso(instant: float) -> str:
    """ISO 8601 in UTC with a `Z`."""
    return datetime.fromtimestamp(instant, UTC).isoformat().replace("+00:00", "Z")
