"""Pausing, resuming and showing schedules: the one path the CLI and the REST API share.

NAME is a workflow name (all of its schedules) or a schedule id (`<workflow>:<position>`, as
`basir schedules list` shows).  A pause is stored, with its event, so a server running on the
same store (or started later) does not fire the schedule; the fires missed while paused follow
the schedule's `catchup` policy when it is resumed.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from basir.errors import BasirError, NotFoundError
from basir.i18n import _
from basir.scheduler.cron import iso_in_zone
from basir.scheduler.cron import utc_iso as iso_utc
from basir.scheduler.schedules import next_clock
from basir.store.base import ConflictError
from basir.store.records import (
    Batch,
    EventRecord,
    ScheduleRecord,
    ScheduleUpdate,
    WorkflowVersion,
)

if TYPE_CHECKING:
    from basir.store.base import Store

MAX_WRITE_TRIES = 5


def schedule_not_found(name: str) -> NotFoundError:
    """No schedule with this id, and no workflow of this name with schedules."""
    return NotFoundError(
        "schedule.not_found",
        _("no schedule {name}: give a workflow name or a schedule id from the list", name=name),
    )


async def find_schedules(store: Store, name: str) -> list[ScheduleRecord]:
    """The schedules NAME means (a schedule id, else a workflow's); `schedule.not_found`."""
    if ":" in name:
        found = await store.get_schedule(name)
        records = [found] if found is not None else []
    else:
        records = await store.list_schedules(name)
    if not records:
        raise schedule_not_found(name)
    return records


async def set_paused(
    store: Store, name: str, paused: bool, by: str | None = None
) -> list[ScheduleRecord]:
    """Pause or resume the schedules NAME means; each change is stored with its event."""
    done: list[ScheduleRecord] = []
    for record in await find_schedules(store, name):
        for _try in range(MAX_WRITE_TRIES):
            current = await store.get_schedule(record.id)
            if current is None:
                break
            if current.paused == paused:
                done.append(current)
                break
            now = time.time()
            fields: dict[str, Any] = {"paused": paused, "updated_at": now}
            if paused:
                fields["paused_at"] = now
            kind = "schedule.paused" if paused else "schedule.resumed"
            event = EventRecord(
                type=kind,
                subject=f"schedules/{current.id}",
                time=now,
                data={"schedule": current.id, "workflow": current.workflow, "by": by},
                workflow=current.workflow,
            )
            try:
                await store.update_schedule(
                    ScheduleUpdate(current.id, current.revision, fields), Batch(events=[event])
                )
            except ConflictError:  # a tick moved it meanwhile: read again
                continue
            current.paused = paused
            done.append(current)
            break
    return done


def upcoming(record: ScheduleRecord, count: int) -> list[float]:
    """The next `count` fire times of a schedule from its clock (its window and jitter too)."""
    fires: list[float] = []
    fire, due = record.next_fire_at, record.due_at
    while fire is not None and due is not None and len(fires) < count:
        fires.append(due)
        fire, due = next_clock(record.id, record.options, fire)
    return fires


MAX_UPCOMING = 1000


async def next_fires_view(store: Store, name: str, count: int) -> list[dict[str, Any]]:
    """`[{"id", "timezone", "next": [ISO 8601 in the schedule's zone, ...]}]` for NAME: what
    `basir schedules next` prints and `GET /api/v1/schedules/{name}/next` answers."""
    if not 1 <= count <= MAX_UPCOMING:
        raise BasirError(
            "schedule.invalid_count",
            _("the number of fires must be from 1 to {most}, not {count}",
              most=MAX_UPCOMING, count=count),
        )  # fmt: skip
    return [
        {
            "id": record.id,
            "timezone": record.timezone,
            "next": [iso_in_zone(t, record.timezone) for t in upcoming(record, count)],
        }
        for record in await find_schedules(store, name)
    ]


def schedule_view(record: ScheduleRecord) -> dict[str, Any]:
    """The public shape of a schedule; times in ISO 8601 with the schedule's own offset."""
    zone = record.timezone

    def when(instant: float | None) -> str | None:
        return None if instant is None else iso_in_zone(instant, zone)

    options = record.options
    return {
        "id": record.id,
        "workflow": record.workflow,
        "cron": record.cron or None,  # None: a one-off (`run_at`)
        "timezone": zone,
        "paused": record.paused,
        "overlap": options.get("overlap", "skip"),
        "catchup": options.get("catchup", "latest"),
        "last_fire": when(record.last_fire_at),
        "last_run_id": record.last_run_id,
        "next_fire": when(record.due_at),
        "queued": [when(t) for t in record.queued],
    }


async def add_run_at(
    store: Store,
    version: WorkflowVersion,
    when: float,
    choices: dict[str, Any],
    by: str | None = None,
) -> ScheduleRecord:
    """A one-off delayed run: a schedule that fires once at `when` (durable like every fire).

    `choices` are the run request's `params`, `priority` and `deadline` (seconds), checked
    by the caller; the run is of the pinned `version`.  If no server runs at `when`, the
    next one to start fires it (catchup `latest`).
    """
    import secrets

    now = time.time()
    if when <= now:
        raise BasirError(
            "run.invalid_run_at", _("run_at must be in the future, not {when}", when=iso_utc(when))
        )
    options: dict[str, Any] = {"at": when, "overlap": "allow", "catchup": "latest"}
    options.update({k: v for k, v in choices.items() if v is not None})
    options.update(version=version.version, by=by)
    record = ScheduleRecord(
        id=f"{version.name}:at:{secrets.token_hex(6)}",
        workflow=version.name,
        position=-1,
        cron="",
        timezone="UTC",
        options=options,
        spec_hash="run_at",
        next_fire_at=when,
        due_at=when,
        created_at=now,
        updated_at=now,
    )
    await store.add_schedule(record)
    event = EventRecord(
        type="schedule.run_at",
        subject=f"schedules/{record.id}",
        time=now,
        data={"schedule": record.id, "workflow": record.workflow, "at": iso_utc(when), "by": by},
        workflow=record.workflow,
    )
    await store.write(Batch(events=[event]))
    return record
