"""Backfill: the runs a schedule would have started in a past window, with their own budget.

`request_backfill` stores one request per schedule (kv kind `backfill`): the logical fire
times of the window (at most `MAX_BACKFILL_FIRES`) and `max_active`.  Each tick of the
schedule clock (`Backfiller.step`) starts the next fires while fewer than `max_active` of the
request's runs are active — a budget of its own, so a backfill never holds up live fires and
live runs never hold up a backfill.  A backfilled run's id is derived from its schedule and
logical time, so creating it twice (a crash, two servers) is a refused duplicate: each fire
runs once.  Every started fire is a `schedule.backfilled` event naming its logical time.
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
from basir.scheduler.schedules import backfill_run_id, window_fires
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
    """Store a backfill of `[start, end]` for each schedule NAME means; returns the requests."""
    requests: list[dict[str, Any]] = []
    now = time.time()
    for record in await find_schedules(store, name):
        first, last = parse_moment(start, record.timezone), parse_moment(end, record.timezone)
        if last < first or last > now:
            raise BasirError(
                "schedule.invalid_window",
                _("a backfill window runs forward and ends in the past: from {start} to {end}",
                  start=start, end=end),
            )  # fmt: skip
        fires = window_fires(record, first, last, MAX_BACKFILL_FIRES)
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


class Backfiller:
    """Starts the fires of stored backfill requests within their budgets."""

    def __init__(
        self,
        store: Store,
        new_run: Callable[[ScheduleRecord, float, str], Awaitable[RunInsert]],
        start_run: Callable[[str], Awaitable[Any]],
    ) -> None:
        self.store = store
        self._new_run = new_run
        self._start_run = start_run

    async def step(self, now: float) -> list[str]:
        """One pass over the open requests; returns the ids of the runs started."""
        started: list[str] = []
        for key, doc in await self.store.kv_list(KIND, limit=1000):
            if not doc.get("done"):
                started.extend(await self._advance(key, doc, now))
        return started

    async def _advance(self, key: str, doc: dict[str, Any], now: float) -> list[str]:
        record = await self.store.get_schedule(doc["schedule"])
        if record is None:  # the schedule left its workflow: nothing more to backfill
            await self.store.kv_put(KIND, key, {**doc, "done": True})
            return []
        active, pending = 0, []
        for logical in doc["fires"]:
            run = await self.store.get_run(backfill_run_id(record.id, logical))
            if run is None:
                pending.append(logical)
            elif run.status not in RUN_TERMINAL:
                active += 1
        if not pending and active == 0:
            await self.store.kv_put(KIND, key, {**doc, "done": True})
            return []
        started: list[str] = []
        for logical in pending[: max(0, int(doc["max_active"]) - active)]:
            run_id = backfill_run_id(record.id, logical)
            insert = await self._new_run(record, now, run_id)
            insert.run.trigger = "backfill"
            event = EventRecord(
                type="schedule.backfilled",
                subject=f"schedules/{record.id}",
                time=now,
                data={"schedule": record.id, "workflow": record.workflow, "run_id": run_id,
                      "at": iso_in_zone(logical, record.timezone)},
                run_id=run_id,
                workflow=record.workflow,
            )  # fmt: skip
            try:
                await self.store.write(Batch([insert], [event, run_queued_event(insert.run, now)]))
            except ConflictError:  # already created (another server, or before a crash)
                continue
            await self._start_run(run_id)
            started.append(run_id)
        return started


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
