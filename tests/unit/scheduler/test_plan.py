"""One tick of one schedule: catchup after downtime, overlap, queue, pause (pure)."""

from __future__ import annotations

from typing import Any

from basir.scheduler.schedules import (
    MISFIRE_GRACE_S,
    backfill_budget,
    jitter_s,
    next_clock,
    plan,
)
from basir.store.records import ScheduleRecord

T0 = 1_800_000_000.0  # a whole minute, UTC


def record(**options: Any) -> ScheduleRecord:
    opts = {"cron": "* * * * *", "timezone": "UTC", **options}
    fire, due = next_clock("w:0", opts, T0 - 1)
    return ScheduleRecord(
        "w:0", "w", 0, opts["cron"], "UTC", opts, "h", next_fire_at=fire, due_at=due
    )


def test_on_time_fire_moves_the_clock() -> None:
    decided = plan(record(), T0 + 1, previous_active=False)
    assert decided.fire == [T0] and decided.skipped == []
    assert decided.next_fire_at == T0 + 60


def test_catchup_latest_runs_the_newest_missed_fire_and_skips_the_rest() -> None:
    decided = plan(record(), T0 + 600, previous_active=False)  # 10 minutes down
    assert decided.fire == [T0 + 600]
    # Missed: more than a minute late; T0 + 540, on time, would overlap the newest.
    assert decided.skipped == [(T0 + 60 * i, "catchup") for i in range(9)] + [(T0 + 540, "overlap")]
    assert decided.next_fire_at == T0 + 660
    hourly = record(cron="0 * * * *")  # next fire T0 + 3600 (T0 is a whole hour)
    down = plan(hourly, T0 + 3 * 3600 + MISFIRE_GRACE_S + 1, previous_active=False)
    assert down.fire == [T0 + 3 * 3600]  # all missed: the newest runs
    assert down.skipped == [(T0 + 3600 * i, "catchup") for i in range(3)]


def test_fires_late_only_by_a_busy_loop_all_run() -> None:
    """Two fires due at once because the loop stalled a few seconds: neither was missed."""
    every_second = record(cron="* * * * * *", overlap="allow")
    stalled = plan(every_second, T0 + 1.5, previous_active=False)
    assert stalled.fire == [T0, T0 + 1] and stalled.skipped == []
    queued = plan(record(cron="* * * * * *", overlap="queue"), T0 + 1.5, False)
    assert queued.fire == [T0] and queued.newly_queued == [T0 + 1] and queued.skipped == []


def test_catchup_none_runs_nothing_late() -> None:
    late = record(catchup="none", cron="*/5 * * * *")
    decided = plan(late, T0 + 600 + MISFIRE_GRACE_S + 1, False)
    assert decided.fire == [] and [t for t, _r in decided.skipped] == [T0, T0 + 300, T0 + 600]
    on_time = plan(record(catchup="none"), T0 + 1, False)
    assert on_time.fire == [T0]


def test_catchup_all_runs_each_up_to_the_limit() -> None:
    now = T0 + 180 + MISFIRE_GRACE_S + 1  # T0 … T0 + 180 missed, T0 + 240 on time
    every = plan(record(catchup="all", overlap="allow"), now, False)
    assert every.fire == [T0, T0 + 60, T0 + 120, T0 + 180, T0 + 240]
    capped = plan(record(catchup="all", catchup_limit=2, overlap="allow"), now, False)
    assert capped.fire == [T0 + 120, T0 + 180, T0 + 240]  # the limit counts missed ones
    assert [t for t, _r in capped.skipped] == [T0, T0 + 60]


def test_missed_while_paused_says_so() -> None:
    paused = record()
    paused.paused_at = T0 + 30
    decided = plan(paused, T0 + 240, False)
    assert decided.skipped == [
        (T0, "catchup"),
        (T0 + 60, "paused"),
        (T0 + 120, "paused"),
        (T0 + 180, "paused"),
    ]


def test_overlap_skip_while_the_previous_run_is_active() -> None:
    decided = plan(record(), T0 + 1, previous_active=True)
    assert decided.fire == [] and decided.skipped == [(T0, "overlap")]
    assert decided.next_fire_at == T0 + 60
    # catchup all with overlap skip: only the first runs, the others would overlap it.
    burst = plan(record(catchup="all"), T0 + 120, False)
    assert burst.fire == [T0] and burst.skipped == [(T0 + 60, "overlap"), (T0 + 120, "overlap")]


def test_overlap_queue_waits_then_fires_in_order() -> None:
    waiting = plan(record(overlap="queue"), T0 + 1, previous_active=True)
    assert waiting.fire == [] and waiting.queued == [T0] and waiting.newly_queued == [T0]
    later = record(overlap="queue")
    later.queued, later.next_fire_at, later.due_at = [T0], T0 + 60, T0 + 60
    decided = plan(later, T0 + 61, previous_active=False)
    assert decided.fire == [T0] and decided.queued == [T0 + 60]  # the new fire waits its turn


def test_overlap_allow_runs_alongside() -> None:
    assert plan(record(overlap="allow"), T0 + 1, previous_active=True).fire == [T0]


def test_window_end_stops_the_clock() -> None:
    decided = plan(record(_end=T0 + 60), T0 + 61, False)
    assert decided.fire == [T0 + 60] and decided.next_fire_at is None


def test_jitter_is_stable_and_bounded() -> None:
    first = jitter_s("w:0", T0, 30.0)
    assert first == jitter_s("w:0", T0, 30.0) and 0 <= first < 30
    assert jitter_s("w:0", T0, 0.0) == 0.0
    jittered = record(jitter=30.0)
    assert jittered.due_at == T0 + jitter_s("w:0", T0, 30.0)


def test_a_long_downtime_is_bounded_work() -> None:
    decided = plan(record(cron="* * * * * *"), T0 + 86_400, False)  # a day of every-second
    assert len(decided.skipped) < 1001 and decided.more_skipped >= 1000
    assert decided.fire == [] or decided.fire[0] <= T0 + 86_400
    assert decided.next_fire_at is not None and decided.next_fire_at > T0 + 86_400


def test_a_live_fire_waits_for_a_backfill_run_instead_of_being_skipped() -> None:
    decided = plan(record(overlap="skip"), T0 + 1, previous_active=False, backfill_active=True)
    assert decided.fire == [] and decided.skipped == []
    assert decided.queued == [T0] and decided.newly_queued == [T0]
    # Its own live run still running: `skip` skips, as always.
    busy = plan(record(overlap="skip"), T0 + 1, previous_active=True, backfill_active=True)
    assert busy.queued == [] and busy.skipped == [(T0, "overlap")]
    # `allow` runs beside a backfill run.
    assert plan(record(overlap="allow"), T0 + 1, False, backfill_active=True).fire == [T0]


def test_the_waiting_live_fire_starts_once_the_backfill_run_ended() -> None:
    held = record(overlap="skip")
    held.queued = [T0]
    held.next_fire_at, held.due_at = T0 + 60, T0 + 60
    assert plan(held, T0 + 5, False, backfill_active=True).fire == []
    decided = plan(held, T0 + 5, False, backfill_active=False)
    assert decided.fire == [T0] and decided.queued == []


def test_backfill_budget_own_with_allow_one_when_idle_otherwise() -> None:
    idle = record(overlap="skip")
    idle.next_fire_at, idle.due_at = T0 + 60, T0 + 60
    kw = {"request_active": 0, "schedule_active": 0, "live_active": False}
    assert backfill_budget(idle, T0, 5, **kw) == 1
    assert backfill_budget(idle, T0, 5, **{**kw, "live_active": True}) == 0
    assert backfill_budget(idle, T0, 5, **{**kw, "schedule_active": 1}) == 0
    assert backfill_budget(idle, T0 + 61, 5, **kw) == 0  # a live fire is due: it goes first
    idle.queued = [T0]
    assert backfill_budget(idle, T0, 5, **kw) == 0  # live fires wait in the queue
    free = record(overlap="allow")
    assert backfill_budget(free, T0 + 600, 5, **{**kw, "live_active": True}) == 5
    assert backfill_budget(free, T0, 5, **{**kw, "request_active": 3, "schedule_active": 4}) == 2
    free.paused = True
    assert backfill_budget(free, T0, 5, **kw) == 0
