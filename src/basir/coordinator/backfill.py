"""Backfill: the runs a schedule would have started in a past window, with their own budget.

`request_backfill` stores one request per schedule (kv kind `backfill`): the logical fire
times of the window (at most `MAX_BACKFILL_FIRES`) and `max_active`.  Each tick of the
schedule clock (`Backfiller.step`) starts the next fires within the request's budget
(`scheduler.schedules.backfill_budget`): with `overlap: allow`, while fewer than `max_active`
of the request's runs are active — a budget of its own, apart from live fires; otherwise the
overlap rule holds across live and backfill runs (never two runs of the schedule at once) and
live fires go first (a backfill run starts only while the schedule is idle and no live fire
is due; a live fire due while a backfill run runs waits for it instead of being skipped).
A paused schedule starts no backfill run either.  A backfilled run's id is derived from its
schedule and logical time, so creating it twice (a crash, two servers) is a refused
duplicate: each fire runs once.  Every started fire is a `schedule.backfilled` event naming
its logical time.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from basir.coordinator.schedule_controls import find_schedules
from basir.errors import BasirError
from basir.i18n import _
from basir.scheduler.cron import iso_in_zone
from basir.scheduler.schedules import backfill_budget, backfill_run_id, window_fires
from basir.states import RUN_TERMINAL
from basir.store.base import ConflictError
from basir.store.records import Batch, EventRecord, RunInsert, RunRecord, ScheduleRecord

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from basir.store.base import Store

MAX_BACKFILL_FIRES = 1000
KIND = "backfill"


def parse_moment(text: str, zone: str) -> float:
    """An ISO 8601 time as epoch seconds; without an offset it is read in `zone`."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise BasirError(
            "schedule.invalid_time",
            _("not an ISO 8601 time: {text} (e.g. 2026-01-31T02:00)", text=text),
        ) from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return moment.timestamp()


async def request_backfill(
    store: Store, name: str, start: str, end: str, max_active: int = 1, by: str | None = None
) -> list[dict[str, Any]]:
    """Store a backfill of `[start, end]` for each schedule NAME means; returns the requests.

    Every schedule's window is checked before anything is stored: a bad one changes nothing.
    """
    requests: list[dict[str, Any]] = []
    now = time.time()
    records = await find_schedules(store, name)
    planned = [(record, _window(record, start, end, now)) for record in records]
    for record, fires in planned:
        first, last = parse_moment(start, record.timezone), parse_moment(end, record.timezone)
        key = f"{record.id}@{first!r}-{last!r}"
        doc = {"schedule": record.id, "fires": fires, "max_active": max_active, "done": False}
        await store.kv_put(KIND, key, doc)
        event = EventRecord(
            type="schedule.backfill_requested",
            subject=f"schedules/{record.id}",
            time=now,
            data={"schedule": record.id, "workflow": record.workflow, "fires": len(fires),
                  "max_active": max_active, "by": by},
            workflow=record.workflow,
        )  # fmt: skip
        await store.write(Batch(events=[event]))
        requests.append({"id": key, "schedule": record.id, "fires": len(fires)})
    return requests


def _window(record: ScheduleRecord, start: str, end: str, now: float) -> list[float]:
    """The logical fire times a backfill of `[start, end]` runs, or `schedule.invalid_window`:
    the window runs backwards, ends in the future, or holds more than `MAX_BACKFILL_FIRES`
    fires (refused rather than cut short, so no fire asked for is silently left out)."""
    first, last = parse_moment(start, record.timezone), parse_moment(end, record.timezone)
    if last < first or last > now:
        raise BasirError(
            "schedule.invalid_window",
            _("a backfill window runs forward and ends in the past: from {start} to {end}",
              start=start, end=end),
        )  # fmt: skip
    fires = window_fires(record, first, last, MAX_BACKFILL_FIRES + 1)
    if len(fires) > MAX_BACKFILL_FIRES:
        raise BasirError(
            "schedule.invalid_window",
            _("the window from {start} to {end} holds more than {limit} fires of {schedule}:"
              " ask for a shorter one (the first {limit} end at {last})",
              start=start, end=end, limit=MAX_BACKFILL_FIRES, schedule=record.id,
              last=iso_in_zone(fires[MAX_BACKFILL_FIRES - 1], record.timezone)),
        )  # fmt: skip
    return fires


class Backfiller:
    """Starts the fires of stored backfill requests within their budgets.

    A tick first `survey`s the open requests (which schedules have a backfill run running,
    so live fires hold back for them: `scheduler.schedules.plan`), fires the live schedules,
    then `step`s the requests: live fires always go first.
    """

    def __init__(
        self,
        store: Store,
        new_run: Callable[[ScheduleRecord, float, str], Awaitable[RunInsert]],
        start_run: Callable[[str], Awaitable[Any]],
    ) -> None:
        self.store = store
        self._new_run = new_run
        self._start_run = start_run
        # Per open request: its fires' run statuses, read by the last `survey`.
        self._open: list[tuple[str, dict[str, Any], dict[str, str]]] = []

    async def survey(self) -> dict[str, int]:
        """Read the open requests and their runs; returns the running backfill runs per
        schedule (one kv read and one run-status read per 256 fires, whatever the count)."""
        docs = [(k, d) for k, d in await self.store.kv_list(KIND, limit=1000) if not d.get("done")]
        wanted = [backfill_run_id(d["schedule"], t) for _k, d in docs for t in d["fires"]]
        statuses = await self.store.run_statuses(wanted) if wanted else {}
        self._open = []
        active: dict[str, int] = {}
        for key, doc in docs:
            mine = {t: statuses[i] for t in doc["fires"]
                    if (i := backfill_run_id(doc["schedule"], t)) in statuses}  # fmt: skip
            self._open.append((key, doc, {repr(t): v for t, v in mine.items()}))
            running = sum(status not in RUN_TERMINAL for status in mine.values())
            active[doc["schedule"]] = active.get(doc["schedule"], 0) + running
        return active

    async def step(self, now: float, active: dict[str, int] | None = None) -> list[str]:
        """Start what the open requests' budgets allow; returns the ids of the runs started.

        `active` is `survey`'s answer for this tick (surveyed here when not given).
        """
        if active is None:
            active = await self.survey()
        started: list[str] = []
        for key, doc, statuses in self._open:
            started.extend(await self._advance(key, doc, statuses, active, now))
        self._open = []
        return started

    async def _advance(
        self,
        key: str,
        doc: dict[str, Any],
        statuses: dict[str, str],
        active: dict[str, int],
        now: float,
    ) -> list[str]:
        record = await self.store.get_schedule(doc["schedule"])
        if record is None:  # the schedule left its workflow: nothing more to backfill
            await self.store.kv_delete(KIND, key)
            return []
        pending = [t for t in doc["fires"] if repr(t) not in statuses]
        running = sum(status not in RUN_TERMINAL for status in statuses.values())
        if not pending and running == 0:  # finished: removed, so open requests stay few
            await self.store.kv_delete(KIND, key)
            return []
        live = await self._live_active(record)
        budget = backfill_budget(
            record, now, int(doc["max_active"]),
            request_active=running, schedule_active=active.get(record.id, 0), live_active=live,
        )  # fmt: skip
        started: list[str] = []
        for logical in pending[:budget]:
            run_id = backfill_run_id(record.id, logical)
            at = iso_in_zone(logical, record.timezone)
            insert = await self._new_run(record, now, run_id)
            insert.run.trigger, insert.run.logical_time = "backfill", at
            event = EventRecord(
                type="schedule.backfilled",
                subject=f"schedules/{record.id}",
                time=now,
                data={"schedule": record.id, "workflow": record.workflow, "run_id": run_id,
                      "at": at},
                run_id=run_id,
                workflow=record.workflow,
            )  # fmt: skip
            try:
                await self.store.write(Batch([insert], [event, run_queued_event(insert.run, now)]))
            except ConflictError:  # already created (another server, or before a crash)
                continue
            active[record.id] = active.get(record.id, 0) + 1  # later requests see it
            await self._start_run(run_id)
            started.append(run_id)
        return started

    async def _live_active(self, record: ScheduleRecord) -> bool:
        if record.last_run_id is None:
            return False
        found = await self.store.run_statuses([record.last_run_id])
        status = found.get(record.last_run_id)
        return status is not None and status not in RUN_TERMINAL


def run_queued_event(run: RunRecord, now: float) -> EventRecord:
    """The `run.queued` event the engine writes for every new run, here for a fired one."""
    return EventRecord(
        type="run.queued",
        subject=f"runs/{run.id}",
        time=now,
        data={
            "run_id": run.id,
            "workflow": run.workflow,
            "status": str(run.status),
            "trigger": run.trigger,
            "by": run.created_by,
        },
        run_id=run.id,
        workflow=run.workflow,
    )
