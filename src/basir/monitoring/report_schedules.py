"""Scheduled performance reports, delivered through a notification route (email, chat, webhook).

A schedule names a cron (in a time zone), a window (`7d`: the report covers the runs created
in the window before each fire) and a notification route.  Schedules are stored (kv kind
`report.schedule`) with the time of their last delivery, so a restart neither repeats nor
loses a due report; a fire missed while the server was down is delivered once at the next
check (never one per missed fire).  Each delivery is a `report.ready` event sent to the route
with the report as text in the route's language (and as JSON in a webhook's body), recorded
like every notification (`notification.delivered` / `notification.failed`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from basir.errors import BasirError, NotFoundError
from basir.i18n import _, use_locale
from basir.monitoring.notify import Notifier
from basir.monitoring.report_render import to_json, to_text
from basir.monitoring.report_source import performance_report
from basir.scheduler.cron import CronRule, next_fire
from basir.spec.cron import cron_problem, timezone_problem
from basir.spec.pydantic_messages import pydantic_message
from basir.spec.units import parse_duration
from basir.store.base import Store
from basir.store.records import EventRecord

log = logging.getLogger(__name__)

SCHEDULE_KIND = "report.schedule"
MAX_SCHEDULES = 50
MAX_WINDOW_S = 366 * 86400.0
CHECK_EVERY_S = 30.0
REPORT_EVENT = "report.ready"


class ReportSchedule(BaseModel):
    """When to send which report where."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")
    cron: str = Field(min_length=1, max_length=100, description="e.g. '0 8 * * 1' (Mondays 8:00)")
    timezone: str = Field("UTC", max_length=64)
    window: str = Field("7d", description="the report covers runs created in this window")
    route: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$", description="a notification route")

    @property
    def window_s(self) -> float:
        """The window in seconds."""
        return parse_duration(self.window)


def schedule_invalid(details: list[dict[str, Any]]) -> BasirError:
    """`report_schedule.invalid`."""
    return BasirError(
        "report_schedule.invalid", _("this report schedule is not valid"), details=details
    )


def validate_schedule(data: object) -> ReportSchedule:
    """A schedule from plain data, or `report_schedule.invalid` naming each bad field."""
    try:
        schedule = ReportSchedule.model_validate(data)
    except ValidationError as error:
        raise schedule_invalid(
            [
                {
                    "field": "body." + ".".join(str(p) for p in e["loc"]),
                    "message": pydantic_message(e, show_input=True) or e["msg"],
                }
                for e in error.errors(include_url=False)
            ]
        ) from error
    problems: list[dict[str, Any]] = []
    for field, problem in (
        ("cron", cron_problem(schedule.cron)),
        ("timezone", timezone_problem(schedule.timezone)),
    ):
        if problem:
            problems.append({"field": f"body.{field}", "message": problem})
    try:
        if not 0 < schedule.window_s <= MAX_WINDOW_S:
            problems.append({"field": "body.window", "message": _("more than 0 and at most 366d")})
    except ValueError as error:
        problems.append({"field": "body.window", "message": str(error)})
    if problems:
        raise schedule_invalid(problems)
    return schedule


def schedule_not_found(name: str) -> NotFoundError:
    """`report_schedule.not_found`."""
    return NotFoundError(
        "report_schedule.not_found", _("no report schedule named {name}", name=name)
    )


def due(schedule: ReportSchedule, last: float, now: float) -> bool:
    """Whether a fire of `schedule` falls in `(last, now]`."""
    fire = next_fire(CronRule(schedule.cron, schedule.timezone), last)
    return fire is not None and fire <= now


class ReportScheduler:
    """Keeps the schedules and sends the reports that are due."""

    def __init__(
        self,
        store: Store,
        notifier: Notifier,
        *,
        clock: Callable[[], float] = time.time,
        check_every_s: float = CHECK_EVERY_S,
    ) -> None:
        self.store = store
        self.notifier = notifier
        self.clock = clock
        self.check_every_s = check_every_s
        self._task: asyncio.Task[None] | None = None

    async def schedules(self) -> list[tuple[ReportSchedule, float]]:
        """Every schedule with the time of its last delivery (or creation), by name."""
        found = []
        for _key, doc in await self.store.kv_list(SCHEDULE_KIND, limit=MAX_SCHEDULES):
            spec = {k: v for k, v in doc.items() if k != "last"}
            found.append((ReportSchedule.model_validate(spec), float(doc["last"])))
        return found

    async def put(self, schedule: ReportSchedule) -> bool:
        """Create or replace a schedule (its route must exist); True when created."""
        routes = {route.name for route in await self.notifier.routes()}
        if schedule.route not in routes:
            raise schedule_invalid(
                [{"field": "body.route", "message": _("no notification route with this name")}]
            )
        existing = {s.name: last for s, last in await self.schedules()}
        if schedule.name not in existing and len(existing) >= MAX_SCHEDULES:
            raise BasirError(
                "report_schedule.too_many",
                _("at most {n} report schedules", n=MAX_SCHEDULES),
                kind="limit",
            )
        last = existing.get(schedule.name, self.clock())
        await self.store.kv_put(
            SCHEDULE_KIND, schedule.name, {**schedule.model_dump(), "last": last}
        )
        return schedule.name not in existing

    async def delete(self, name: str) -> None:
        """Delete a schedule."""
        if not await self.store.kv_delete(SCHEDULE_KIND, name):
            raise schedule_not_found(name)

    async def tick(self) -> list[EventRecord]:
        """Send every due report once; return the delivery records."""
        now = self.clock()
        records: list[EventRecord] = []
        for schedule, last in await self.schedules():
            if not due(schedule, last, now):
                continue
            doc = {**schedule.model_dump(), "last": now}
            await self.store.kv_put(SCHEDULE_KIND, schedule.name, doc)  # at most once per fire
            event = await self._report_event(schedule, now)
            records.extend(await self.notifier.send_to(schedule.route, event))
        return records

    async def _report_event(self, schedule: ReportSchedule, now: float) -> EventRecord:
        since = now - schedule.window_s
        report = await performance_report(self.store, since, now)
        texts = {}
        for lang in ("en", "ar"):
            with use_locale(lang):
                texts[lang] = to_text(report)
        return EventRecord(
            type=REPORT_EVENT,
            subject=f"reports/{schedule.name}",
            time=now,
            data={
                "schedule": schedule.name,
                "since": since,
                "until": now,
                "message": texts,
                "report": to_json(report),
            },
        )

    def start(self) -> None:
        """Check for due reports every `check_every_s` in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="basir-report-schedules")

    async def stop(self) -> None:
        """Stop checking."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.check_every_s)
            try:
                await self.tick()
            except Exception:  # one failed check is logged; the next one tries again
                log.exception("scheduled report failed")
