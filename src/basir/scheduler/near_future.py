"""The schedules due in the near future, held in memory: a bounded heap over `due_at`.

The clock (`coordinator.schedules.Scheduler`) loads the unpaused schedules due within the
next `WINDOW_S` from the store's next-fire index once (at most `LIMIT` of them, soonest
first), then each tick takes the due ones from here instead of asking the store: a tick
reads no schedule row, whether nothing or a thousand are due (it only asks the store's
schedule token, below).

What is here is exactly what the store holds, because the clock reloads whenever the
store's schedule token (`ScheduleStore.schedules_token`) moved for a reason other than its
own fires (an apply, a pause or resume, a one-off, another process), and puts back itself
what its own fires wrote (`put`).  Every fire is still guarded by the schedule's revision, so
a stale entry can only lose its write, never fire twice.

`horizon`: every unpaused schedule due before it is here.  When the window held `limit` or
more, the horizon is the `due_at` of the last one read, and the entries due exactly then may
be only some of them (firing those is still right: they are due); once the clock
reaches the horizon, it reloads.  Schedules holding queued fires (`overlap: queue`) are due
whenever their previous run ends, so they are offered at every tick.

Pure data structure (no I/O); memory is bounded by `limit` records.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable

from basir.store.records import ScheduleRecord

WINDOW_S = 120.0  # how far ahead a load reaches
LIMIT = 5_000  # records held at most: some 15 MB, whatever the number of schedules


class NearFuture:
    """The schedules due before `horizon`, soonest first; see the module's docstring."""

    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self.token: Hashable | None = None  # the store's schedule token at the last load
        self.horizon = float("-inf")  # nothing is known until loaded
        self._heap: list[tuple[float, str]] = []  # (due_at, id); stale pairs skipped lazily
        self._records: dict[str, ScheduleRecord] = {}
        self._queued: set[str] = set()  # ids holding queued fires

    def __len__(self) -> int:
        return len(self._records)

    @property
    def loaded(self) -> bool:
        """Whether a load happened (and no `forget` since)."""
        return self.token is not None

    def covers(self, now: float, token: Hashable) -> bool:
        """Whether what is here answers a tick at `now` with the store at `token`."""
        return self.token is not None and token == self.token and now < self.horizon

    def load(self, records: list[ScheduleRecord], until: float, token: Hashable) -> None:
        """Hold `records`: the store's answer, read at `token`, to "the unpaused schedules due
        by `until` or holding queued fires, soonest first, at most `limit`"."""
        self.forget()
        self.token = token
        self.horizon = until
        if len(records) >= self.limit:  # cut short: complete only before the last one read
            timed = [r.due_at for r in records if r.due_at is not None and r.due_at <= until]
            self.horizon = max(timed) if timed else float("-inf")
        for record in records[: self.limit]:
            self.put(record)

    def forget(self) -> None:
        """Drop everything: the next tick reloads."""
        self._heap.clear()
        self._records.clear()
        self._queued.clear()
        self.token = None
        self.horizon = float("-inf")

    def put(self, record: ScheduleRecord) -> None:
        """Hold `record` as it now is in the store (replacing any older copy of it); one
        that is paused, has no fire left, or is due past the horizon is let go."""
        self.drop(record.id)
        if record.paused:
            return
        due_at = record.due_at
        in_window = due_at is not None and due_at < self.horizon
        if not (in_window or record.queued):
            return  # a later load finds it (the horizon is reached first)
        if len(self._records) >= self.limit:  # full: no longer complete from here on
            self.horizon = min(self.horizon, due_at) if due_at is not None else float("-inf")
            return
        self._records[record.id] = record
        if record.queued:
            self._queued.add(record.id)
        if due_at is not None:
            heapq.heappush(self._heap, (due_at, record.id))
            if len(self._heap) > 2 * self.limit + 64:  # stale pairs: rebuild from what is held
                self._heap = [
                    (r.due_at, i) for i, r in self._records.items() if r.due_at is not None
                ]
                heapq.heapify(self._heap)

    def drop(self, schedule_id: str) -> None:
        """Let `schedule_id` go (its heap entry is skipped when it surfaces)."""
        if self._records.pop(schedule_id, None) is not None:
            self._queued.discard(schedule_id)

    def take_due(self, now: float, limit: int) -> list[ScheduleRecord]:
        """The schedules due at `now` (`due_at <= now`) or holding queued fires, soonest due
        first, at most `limit`, as `ScheduleStore.due_schedules` would answer; they leave
        the heap (the caller `put`s each back as its fire left it)."""
        found: list[ScheduleRecord] = []
        heap, records = self._heap, self._records
        while heap and heap[0][0] <= now and len(found) < limit:
            due_at, schedule_id = heapq.heappop(heap)
            record = records.get(schedule_id)
            if record is None or record.due_at != due_at:
                continue  # dropped or moved since pushed: a stale pair
            del records[schedule_id]
            self._queued.discard(schedule_id)
            found.append(record)
        if self._queued and len(found) < limit:
            waiting = sorted(
                (records[i] for i in self._queued),
                key=lambda r: (r.due_at is None, r.due_at or 0.0, r.id),
            )
            for record in waiting[: limit - len(found)]:
                self.drop(record.id)
                found.append(record)
            found.sort(key=lambda r: (r.due_at is None, r.due_at or 0.0))
        return found

    def soonest(self) -> float | None:
        """The soonest `due_at` held (None: nothing timed is held)."""
        heap, records = self._heap, self._records
        while heap:
            due_at, schedule_id = heap[0]
            record = records.get(schedule_id)
            if record is not None and record.due_at == due_at:
                return due_at
            heapq.heappop(heap)
        return None
