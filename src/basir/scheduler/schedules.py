"""What a schedule does at a tick: pure decisions over a `ScheduleRecord` and the time.

`plan` reads a schedule, the time and whether its previous run is still active, and says which
logical fire times start a run, which are skipped and why (`catchup`, `paused`, `overlap`,
`queue_full`), which wait in the queue (`overlap: queue`), and where the clock moves.  The
async shell (`coordinator.schedules`) applies a plan in one store transaction.

Missed fires (all due fires but the latest, and the latest too once it is more than
`MISFIRE_GRACE_S` late) follow `catchup`: `none` runs none of them, `latest` (default) runs the
newest, `all` runs each (the newest `catchup_limit` at most).  At most `MAX_MISSED_WALK` missed
fires are looked at one by one; beyond that the clock jumps to now and one event says that at
least `more` further fires were skipped (counted up to `MAX_MISSED_WALK` again).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from basir.scheduler.cron import CronRule, next_fire
from basir.store.records import ScheduleRecord

MISFIRE_GRACE_S = 60.0
MAX_MISSED_WALK = 1000
MAX_QUEUED = 100


RULES_KEPT = 10_000  # distinct rules kept built (cron, zone, DST policy): a few MB at most
_rules: dict[tuple[str, str, str, str], CronRule] = {}


def rule_of(options: dict[str, Any]) -> CronRule:
    """The cron rule of a schedule entry (its canonical JSON).

    Rules are kept once built: a tick asks for one per due schedule and per fire walked,
    and schedules share few rules (building a frozen dataclass costs more than finding it).
    """
    key = (
        options["cron"],
        options.get("timezone", "UTC"),
        options.get("dst_gap", "shift"),
        options.get("dst_fold", "once"),
    )
    rule = _rules.get(key)
    if rule is None:
        if len(_rules) >= RULES_KEPT:
            _rules.clear()
        rule = _rules[key] = CronRule(*key)
    return rule


def jitter_s(schedule_id: str, logical: float, jitter: float) -> float:
    """A stable delay in [0, jitter): the same for a fire whoever computes it, crash or not."""
    if jitter <= 0:
        return 0.0
    digest = hashlib.sha256(f"{schedule_id}@{logical!r}".encode()).digest()
    return jitter * int.from_bytes(digest[:8], "big") / 2**64


def next_clock(
    record_id: str, options: dict[str, Any], after: float
) -> tuple[float | None, float | None]:
    """`(next_fire_at, due_at)` of the first fire after `after` inside the entry's window.

    A one-off (`run_at`, options `at`) fires once, at its time.
    """
    once = options.get("at")
    if once is not None:
        return (float(once), float(once)) if once > after else (None, None)
    start, end = options.get("_start"), options.get("_end")
    if start is not None and after < start:
        after = start - 1e-6
    fire = next_fire(rule_of(options), after)
    if fire is None or (end is not None and fire > end):
        return None, None
    return fire, fire + jitter_s(record_id, fire, float(options.get("jitter", 0.0)))


@dataclass(slots=True)
class Plan:
    """What one tick does to one schedule."""

    fire: list[float] = field(default_factory=list)  # logical times that start a run, in order
    skipped: list[tuple[float, str]] = field(default_factory=list)  # (logical time, reason)
    more_skipped: int = 0  # at least this many more missed fires, skipped in one go
    queued: list[float] = field(default_factory=list)  # the schedule's queue after this tick
    newly_queued: list[float] = field(default_factory=list)
    next_fire_at: float | None = None
    due_at: float | None = None

    @property
    def changed(self) -> bool:
        """Whether the tick has anything to write."""
        return bool(self.fire or self.skipped or self.more_skipped or self.newly_queued)


Clock = tuple[float | None, float | None]


def _due_fires(record: ScheduleRecord, now: float) -> tuple[list[float], int, Clock]:
    """Logical times due by `now` from the clock on, how many more were not walked, and the
    clock after them (`(next_fire_at, due_at)`)."""
    options = record.options
    due: list[float] = []
    fire, at = record.next_fire_at, record.due_at
    while fire is not None and at is not None and at <= now and len(due) < MAX_MISSED_WALK:
        due.append(fire)
        fire, at = next_clock(record.id, options, fire)
    if fire is not None and at is not None and at <= now:  # too many: jump to now
        return due, _count_more(record, fire, now), next_clock(record.id, options, now)
    return due, 0, (fire, at)


def _count_more(record: ScheduleRecord, fire: float, now: float) -> int:
    count, current = 0, fire
    while count < MAX_MISSED_WALK:  # bounded in cost: the event says "at least" this many
        count += 1
        following = next_fire(rule_of(record.options), current)
        if following is None or following > now:
            break
        current = following
    return count


def _missed_reason(record: ScheduleRecord, logical: float) -> str:
    paused_at = record.paused_at
    return "paused" if paused_at is not None and logical >= paused_at else "catchup"


def _catchup(record: ScheduleRecord, due: list[float], now: float, plan: Plan) -> list[float]:
    """The due fires that run; the others are skipped into `plan`, each saying why.

    A fire at most `MISFIRE_GRACE_S` late (its jitter included) is on time and runs whatever
    the policy: a busy loop or a slow store is no outage.  Older fires, and those that came
    due while the schedule was paused, were missed: `none` runs none of them, `latest` the
    newest when no on-time fire follows it, `all` the newest `catchup_limit` (all by default).
    With `overlap: skip` only the newest on-time fire can run; the older ones would overlap it.
    """
    if not due:
        return []
    options = record.options
    jitter, paused_at = options.get("jitter", 0.0), record.paused_at
    late = now - MISFIRE_GRACE_S  # a fire due before this was missed
    missed: list[float] = []
    on_time: list[float] = []
    for fire in due:
        was_missed = (fire + jitter_s(record.id, fire, jitter) if jitter else fire) < late or (
            paused_at is not None and fire >= paused_at
        )
        (missed if was_missed else on_time).append(fire)
    policy = options.get("catchup", "latest")
    if policy == "all":
        caught = missed[-(options.get("catchup_limit") or len(missed) or 1) :] if missed else []
    elif policy == "latest" and not on_time:
        caught = missed[-1:]
    else:
        caught = []
    for logical in missed:
        if logical not in caught:
            plan.skipped.append((logical, _missed_reason(record, logical)))
    if options.get("overlap", "skip") == "skip" and len(on_time) > 1:
        plan.skipped.extend((logical, "overlap") for logical in on_time[:-1])
        on_time = on_time[-1:]
    return caught + on_time


def plan(
    record: ScheduleRecord, now: float, previous_active: bool, backfill_active: bool = False
) -> Plan:
    """Decide one tick of one schedule (see the module's docstring).

    `backfill_active`: a backfill run of this schedule is running.  It counts for the
    overlap rule like a live run, but a live fire never loses to it: a fire that only a
    backfill run is in the way of waits in the queue (`overlap: skip` too) and starts
    when that run ends — backfills never starve live fires.
    """
    result = Plan(queued=list(record.queued))
    overlap = record.options.get("overlap", "skip")
    busy = previous_active or backfill_active
    if result.queued and not busy:
        result.fire.append(result.queued.pop(0))
        busy = True
    due, more, clock = _due_fires(record, now)
    result.more_skipped = more
    for logical in _catchup(record, due, now, result):
        held = overlap == "queue" or (backfill_active and not previous_active and not result.fire)
        if not busy or overlap == "allow":
            result.fire.append(logical)
            busy = True
        elif held and len(result.queued) < MAX_QUEUED:
            result.queued.append(logical)
            result.newly_queued.append(logical)
        else:
            result.skipped.append((logical, "overlap" if overlap != "queue" else "queue_full"))
    result.next_fire_at, result.due_at = clock
    result.skipped.sort()
    return result


def backfill_budget(
    record: ScheduleRecord,
    now: float,
    max_active: int,
    *,
    request_active: int,
    schedule_active: int,
    live_active: bool,
) -> int:
    """How many more runs a backfill request may start now.

    `request_active`: this request's runs still running; `schedule_active`: every backfill
    run of the schedule (all requests); `live_active`: the schedule's live run.  A paused
    schedule starts nothing.  With `overlap: allow` the request's own `max_active` is the
    budget.  Otherwise a backfill run, like any run of the schedule, never runs beside
    another one, and live fires go first: nothing starts while a live run is running, a
    live fire is due, or live fires wait in the queue.
    """
    if record.paused:
        return 0
    if record.options.get("overlap", "skip") == "allow":
        return max(0, max_active - request_active)
    due = record.due_at is not None and record.due_at <= now
    if live_active or schedule_active or due or record.queued:
        return 0
    return 1


def window_fires(record: ScheduleRecord, start: float, end: float, limit: int) -> list[float]:
    """Logical fire times in `[start, end]` (inside the entry's own window), at most `limit`."""
    fires: list[float] = []
    fire, _due = next_clock(record.id, record.options, start - 1e-6)
    while fire is not None and fire <= end and len(fires) < limit:
        fires.append(fire)
        fire, _due = next_clock(record.id, record.options, fire)
    return fires


def backfill_run_id(schedule_id: str, logical: float) -> str:
    """The run id of a backfilled fire: the same whoever creates it, so it is created once."""
    digest = hashlib.sha256(f"{schedule_id}@{logical!r}".encode()).hexdigest()[:24]
    return f"bf{digest}"
