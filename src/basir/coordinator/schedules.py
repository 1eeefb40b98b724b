"""`Scheduler`: the clock inside `basir server` that starts workflows by their `on.schedule`.

Each tick reads the schedules that are due (an indexed query: the cost follows the due ones,
not all), asks the pure `scheduler.schedules.plan` what to do, and writes the whole decision
— the fired runs, their `schedule.*` events and the moved clock — in one store transaction
guarded by the schedule's revision (`ScheduleStore.update_schedule`).  Only then are the runs
handed to the engine (`Engine.resume`).  A crash before the commit leaves the clock where it
was (the fire happens on the next start); after it, the run is in the store and the engine's
own resume picks it up: never lost, never doubled.  A paused schedule, or one changed by an
apply, is read fresh from the store every tick, so another process's pause holds at once.

`tick(now)` takes the time as an argument, so tests drive the clock without sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from basir.coordinator.backfill import Backfiller, run_queued_event
from basir.coordinator.fire_parts import RunIds, collector_held, run_kit
from basir.coordinator.workflows import spec_hash
from basir.errors import BasirError, NotFoundError
from basir.i18n import _
from basir.scheduler.cron import iso_in_zone
from basir.scheduler.near_future import WINDOW_S, NearFuture
from basir.scheduler.schedules import Plan, next_clock, plan
from basir.states import RUN_TERMINAL, RunStatus
from basir.store.base import ConflictError
from basir.store.base import NotFoundError as StoreNotFound
from basir.store.records import (
    Batch,
    EventRecord,
    RunInsert,
    RunRecord,
    ScheduleRecord,
    ScheduleUpdate,
)

if TYPE_CHECKING:
    from basir.engine.runtime import Engine
    from basir.spec.models import WorkflowSpec
    from basir.store.base import Store
    from basir.store.records import WorkflowVersion

log = logging.getLogger(__name__)

POLL_S = 1.0  # the longest sleep: picks up pauses and applies made by other processes
SPEC_CACHE_SIZE = 1000  # parsed workflow versions kept between fires
RESYNC_HORIZON_S = 7 * 86_400.0  # fires recomputed with current tzdata: the next week's
RESYNC_EVERY_S = 86_400.0
RESYNC_MAX = 100_000
DUE_LIMIT = 1000  # schedules fired per tick at most (the rest at the next one)
_TERMINAL = frozenset(str(status) for status in RUN_TERMINAL)  # as the store returns them
_SUCCEEDED = str(RunStatus.SUCCEEDED)


def schedule_records(spec: WorkflowSpec, now: float) -> list[ScheduleRecord]:
    """The schedule rows of a workflow's `on.schedule`, each with its first fire after `now`."""
    records: list[ScheduleRecord] = []
    for position, entry in enumerate(spec.on.schedule if spec.on is not None else []):
        options: dict[str, Any] = entry.model_dump(mode="json")
        start, end = entry.window()
        options["_start"], options["_end"] = start, end
        schedule_id = f"{spec.name}:{position}"
        fire, due = next_clock(schedule_id, options, now)
        records.append(
            ScheduleRecord(
                id=schedule_id,
                workflow=spec.name,
                position=position,
                cron=entry.cron,
                timezone=entry.timezone,
                options=options,
                spec_hash=spec_hash(options),
                next_fire_at=fire,
                due_at=due,
                created_at=now,
                updated_at=now,
            )
        )
    return records


def _clock_fields(decided: Plan, run_ids: list[str], now: float) -> dict[str, Any]:
    """The schedule columns a tick writes: the moved clock, the queue, the last fire."""
    fields: dict[str, Any] = {
        "next_fire_at": decided.next_fire_at,
        "due_at": decided.due_at,
        "queued": decided.queued,
        "updated_at": now,
    }
    if decided.fire or decided.skipped:
        fields["paused_at"] = None
    if run_ids:
        fields["last_run_id"] = run_ids[-1]
        fields["last_fire_at"] = decided.fire[-1]
    return fields


def _event(kind: str, record: ScheduleRecord, now: float, **data: Any) -> EventRecord:
    payload = {"schedule": record.id, "workflow": record.workflow, **data}
    return EventRecord(
        type=kind,
        subject=f"schedules/{record.id}",
        time=now,
        data={k: v for k, v in payload.items() if v is not None},
        run_id=data.get("run_id"),
        workflow=record.workflow,
    )


def _fired_event(record: ScheduleRecord, now: float, at: str, run_id: str) -> EventRecord:
    """`schedule.fired` (as `_event` makes it, without its generic filtering: once per fire)."""
    return EventRecord(
        type="schedule.fired",
        subject=f"schedules/{record.id}",
        time=now,
        data={"schedule": record.id, "workflow": record.workflow, "at": at, "run_id": run_id},
        run_id=run_id,
        workflow=record.workflow,
    )


class Scheduler:
    """Fires due schedules into runs of the engine; `start` runs the loop, `tick` one step."""

    def __init__(
        self, store: Store, engine: Engine, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.engine = engine
        self.clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._specs: dict[tuple[str, int], WorkflowSpec] = {}
        self._resynced_at = 0.0
        # Workflow versions read during one tick (the latest may change between ticks).
        self._versions: dict[tuple[str, int | None], WorkflowVersion] = {}
        self._defaults: dict[tuple[str, int], dict[str, Any]] = {}  # params, per version
        # Whether each version's tasks could start now (None) or why not: pools and quotas do
        # not change within a tick, so a thousand fires of one version check it once.
        self._unfit: dict[tuple[str, int], BasirError | None] = {}
        self._run_ids = RunIds()
        self.near = NearFuture()  # the schedules due soon, when the store can say they hold
        # Previous runs of those found succeeded when they were loaded: a succeeded run never
        # runs again (failed and cancelled ones can be retried in place), so they are not re-read.
        self._succeeded: set[str] = set()
        self._backlog = False  # the last tick read a full `DUE_LIMIT` from the store
        self.backfiller = Backfiller(store, self._new_run, engine.resume)

    def wake(self) -> None:
        """Tick now (a schedule was applied, paused or resumed in this process)."""
        self._wake.set()

    async def resync(self, now: float | None = None) -> int:
        """Recompute the fires of the next `RESYNC_HORIZON_S` with this machine's time-zone
        rules; returns how many moved.

        A stored next fire is an instant; if the zone's rules changed since it was computed
        (a tzdata update: a country drops DST or moves its offset), the instant is stale.
        The server resyncs when it starts and every `RESYNC_EVERY_S`, reading only the
        schedules due within the horizon (indexed, at most `RESYNC_MAX`), so memory stays
        bounded however many schedules exist.  Fires already due are left to `catchup`.
        """
        now = self.clock() if now is None else now
        self._resynced_at = now
        moved = 0
        for record in await self.store.due_schedules(now + RESYNC_HORIZON_S, RESYNC_MAX):
            if record.next_fire_at is None or record.next_fire_at <= now:
                continue
            after = record.last_fire_at if record.last_fire_at is not None else now
            fire, due = next_clock(record.id, record.options, max(after, now - 1e-6))
            if fire == record.next_fire_at:
                continue
            fields = {"next_fire_at": fire, "due_at": due, "updated_at": now}
            with contextlib.suppress(ConflictError):
                await self.store.update_schedule(ScheduleUpdate(record.id, record.revision, fields))
                moved += 1
        return moved

    async def start(self) -> None:
        """Recompute future fires (`resync`), then run the loop in the background."""
        try:
            await self.resync()
        except Exception:  # advice only: the loop still fires what the store holds
            log.exception("recomputing the next fires failed")
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="basir-scheduler")

    async def stop(self) -> None:
        """Stop the loop (a tick in progress is cancelled before its commit, or completes)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
                await self.refill()
                near = self.near
                if near.loaded and near.horizon > self.clock():  # it knows the soonest
                    soonest = near.soonest()
                    soonest = near.horizon if soonest is None else soonest
                else:
                    soonest = await self.store.next_due_at()
            except Exception:  # a store outage must not end the clock; the next tick retries
                log.exception("scheduler tick failed")
                soonest = None
            now = self.clock()
            if now - self._resynced_at >= RESYNC_EVERY_S:
                try:
                    await self.resync(now)
                except Exception:  # advice only, as at start
                    log.exception("recomputing the next fires failed")
            delay = POLL_S if soonest is None else min(POLL_S, max(0.0, soonest - now))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def tick(self, now: float | None = None) -> list[str]:
        """Fire every due schedule once; returns the ids of the runs started.

        The whole tick is a handful of store calls whatever the number due: one indexed read
        of the due schedules, one of their previous runs' statuses, one per workflow version
        fired, and ONE transaction that moves every clock together with the runs and events
        of its fire (`update_schedules`: each schedule's part all or nothing on its own).
        """
        now = self.clock() if now is None else now
        self._versions.clear()
        self._defaults.clear()
        self._unfit.clear()
        backfilling = await self.backfiller.survey()  # live fires wait for these, below
        due = await self._due(now)
        started = await self._fire_all(due, now, backfilling) if due else []
        started.extend(await self.backfiller.step(now, backfilling))  # live ones went first
        return started

    async def _due(self, now: float) -> list[ScheduleRecord]:
        """The schedules due at `now`: from the near future held in memory while the store's
        schedules are as they were when it was loaded (`schedules_token`) and it reaches past
        `now`; else read from the store's next-fire index, and reloaded after (`refill`)."""
        token = await self.store.schedules_token()
        if token is not None and self.near.covers(now, token):
            self._backlog = False
            return self.near.take_due(now, DUE_LIMIT)
        self.near.forget()
        due = await self.store.due_schedules(now, DUE_LIMIT + 1)
        self._backlog = len(due) > DUE_LIMIT  # more than one tick fires: left to the store
        return due[:DUE_LIMIT]

    async def refill(self, now: float | None = None) -> bool:
        """Load the schedules due within `WINDOW_S` from the store's next-fire index into the
        near future, unless what is held still answers for the next half window; returns
        whether it loaded.  The loop calls it after each tick (off the fires' path); not
        while a backlog of due fires is being worked off (the store serves those)."""
        now = self.clock() if now is None else now
        if self._backlog:
            return False
        token = await self.store.schedules_token()
        if token is None or self.near.covers(now + WINDOW_S / 2, token):
            return False
        until = now + WINDOW_S
        records = await self.store.due_schedules(until, self.near.limit)
        last_runs = [r.last_run_id for r in records if r.last_run_id is not None]
        statuses = await self.store.run_statuses(last_runs) if last_runs else {}
        self._succeeded = {i for i, status in statuses.items() if status == _SUCCEEDED}
        self.near.load(records, until, token)
        return True

    def _settled(self, record: ScheduleRecord, fields: dict[str, Any] | None) -> None:
        """Put a schedule a tick took back into the near future as its write left it
        (`fields` written and the revision bumped, as the store did; None: not written)."""
        near = self.near
        if not near.loaded:
            return
        if fields is not None:
            if not fields["queued"] and (fields["due_at"] or near.horizon) >= near.horizon:
                return  # due past what is held (the next load finds it): let go
            for name, value in fields.items():
                setattr(record, name, value)
            record.revision += 1
        near.put(record)

    async def _fire_all(
        self, due: list[ScheduleRecord], now: float, backfilling: dict[str, int] | None = None
    ) -> list[str]:
        """Plan the fires of `due` and write them all in one store call (one transaction;
        each schedule's part all or nothing on its own), then hand the runs to the engine."""
        try:
            with collector_held():
                started = await self._write_fires(due, now, backfilling)
        except BaseException:
            self.near.forget()  # what it took may not be back: the next tick reads the store
            raise
        for run_id in started:
            await self.engine.resume(run_id)
        return started

    async def _write_fires(
        self, due: list[ScheduleRecord], now: float, backfilling: dict[str, int] | None
    ) -> list[str]:
        """The fires of `due` planned and written; the ids of the runs created."""
        known = self._succeeded if self.near.loaded else set()
        last_runs = [r.last_run_id for r in due if r.last_run_id and r.last_run_id not in known]
        statuses = await self.store.run_statuses(last_runs) if last_runs else {}
        for wanted in dict.fromkeys((r.workflow, r.options.get("version")) for r in due):
            with contextlib.suppress(BasirError):  # a missing one: its fires say so, below
                await self._version(wanted)  # read once per tick, not once per fire
        records: list[ScheduleRecord] = []
        items: list[tuple[ScheduleUpdate, Batch | None]] = []
        fired: list[list[str]] = []
        backfilling = backfilling or {}
        for record in due:
            status = statuses.get(record.last_run_id or "")
            active = status is not None and status not in _TERMINAL
            decided = plan(record, now, active, bool(backfilling.get(record.id)))
            if not decided.changed and decided.next_fire_at == record.next_fire_at:
                self._settled(record, None)  # nothing to write: held as it is
                continue
            batch, run_ids = await self._batch(record, decided, now)
            fields = _clock_fields(decided, run_ids, now)
            records.append(record)
            items.append((ScheduleUpdate(record.id, record.revision, fields), batch))
            fired.append(run_ids)
        lost = await self.store.update_schedules(items) if items else []
        return self._landed(records, items, fired, lost)

    def _landed(
        self,
        records: list[ScheduleRecord],
        items: list[tuple[ScheduleUpdate, Batch | None]],
        fired: list[list[str]],
        lost: list[BaseException | None],
    ) -> list[str]:
        """The runs of the fires written; the near future takes each schedule back as its
        write left it (and is dropped at any doubt: the next tick reads the store)."""
        started: list[str] = []
        for record, (change, _batch), run_ids, error in zip(
            records, items, fired, lost, strict=True
        ):
            if error is None:
                started.extend(run_ids)
                self._settled(record, change.fields)
                continue
            self.near.forget()
            if not isinstance(error, ConflictError | StoreNotFound):
                log.error("firing schedule %s failed: %s", change.id, error)
            # else: changed or removed since read (paused, applied, another server)
        return started

    async def _batch(
        self, record: ScheduleRecord, decided: Plan, now: float
    ) -> tuple[Batch, list[str]]:
        batch = Batch()
        zone = record.timezone
        for logical, reason in decided.skipped:
            at = iso_in_zone(logical, zone)
            batch.events.append(_event("schedule.skipped", record, now, at=at, reason=reason))
        if decided.more_skipped:
            batch.events.append(
                _event(
                    "schedule.skipped",
                    record,
                    now,
                    reason="catchup",
                    more_at_least=decided.more_skipped,
                )
            )
        # Waiting for its own previous run (`overlap: queue`), or for a backfill run.
        why = "overlap" if record.options.get("overlap", "skip") == "queue" else "backfill"
        for logical in decided.newly_queued:
            at = iso_in_zone(logical, zone)
            batch.events.append(_event("schedule.queued", record, now, at=at, reason=why))
        run_ids: list[str] = []
        for logical in decided.fire:
            at = iso_in_zone(logical, zone)
            try:
                insert = await self._new_run(record, now)
            except BasirError as error:  # a required parameter without a default, a quota
                reason = "quota" if error.code == "quota.exceeded" else "invalid"
                skipped = _event(
                    "schedule.skipped", record, now, at=at, reason=reason, error=str(error)
                )
                if error.details:  # where: e.g. a task that could never start
                    skipped.data["problems"] = error.details
                batch.events.append(skipped)
                continue
            run_id = insert.run.id
            insert.run.logical_time = at
            run_ids.append(run_id)
            batch.changes.append(insert)
            batch.events.append(_fired_event(record, now, at, run_id))
            batch.events.append(run_queued_event(insert.run, now))
        return batch, run_ids

    async def _version(self, wanted: tuple[str, int | None]) -> WorkflowVersion:
        """A workflow version, read once per tick; `workflow.not_found` when there is none."""
        version = self._versions.get(wanted)
        if version is None:
            version = await self.store.get_workflow(*wanted)
            if version is None:
                message = _("no workflow named {name}", name=wanted[0])
                raise NotFoundError("workflow.not_found", message)
            self._versions[wanted] = version
        return version

    async def _new_run(
        self, record: ScheduleRecord, now: float, run_id: str | None = None
    ) -> RunInsert:
        kit = run_kit()
        options = record.options  # a one-off (`run_at`) carries its request's choices
        wanted = (record.workflow, options.get("version"))
        version = self._versions.get(wanted) or await self._version(wanted)
        key = (version.name, version.version)
        spec = self._specs.get(key)
        if spec is None:  # versions are immutable: parse each once
            if len(self._specs) >= SPEC_CACHE_SIZE:
                self._specs.clear()
            spec = self._specs[key] = kit.spec_model.model_validate(version.spec)
        if key not in self._unfit:  # a task that could never start skips the fire
            try:
                kit.refuse_unfit(self.engine, spec)
                self._unfit[key] = None
            except BasirError as error:
                self._unfit[key] = error
        if (unfit := self._unfit[key]) is not None:
            raise unfit
        kit.refuse_run(self.engine, spec.namespace, now)  # a `refuse` quota skips the fire
        deadline = options.get("deadline", spec.deadline)
        given = options.get("params")
        if given is None:  # the version's defaults: resolved once per tick, not per fire
            defaults = self._defaults.get(key)
            if defaults is None:
                defaults = self._defaults[key] = kit.resolve_params(spec, None)
            params = copy.deepcopy(defaults) if defaults else {}
        else:
            params = kit.resolve_params(spec, given)
        run = RunRecord(
            id=run_id or self._run_ids(),
            workflow=version.name,
            version=version.version,
            status=RunStatus.QUEUED,
            params=params,
            priority=options.get("priority", spec.priority),
            deadline_at=now + deadline if deadline is not None else None,
            concurrency=spec.concurrency,
            created_at=now,
            updated_at=now,
            trigger="schedule",
            created_by=options.get("by", f"schedule:{record.id}"),
            namespace=spec.namespace,
        )
        return RunInsert(run=run, tasks=kit.initial_rows(run, spec, now))
