"""Schedules as rows: the column codec and guards every store shares (no SQL, no SQLAlchemy).

Kept apart from `schedule_sql` (the SQLAlchemy statements) so that the embedded SQLite store,
which runs those statements from its shipped catalogue, never imports SQLAlchemy for them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from basir.store import codec
from basir.store.base import ConflictError, NotFoundError
from basir.store.records import ScheduleRecord, ScheduleUpdate

SCHEDULE_COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(ScheduleRecord))
# Written when an entry is registered or its definition changes; the rest is the clock's state.
DEFINITION_COLUMNS = ("workflow", "position", "cron", "timezone", "options", "spec_hash")
UPDATABLE = frozenset(SCHEDULE_COLUMNS) - {"id", "revision", "created_at", *DEFINITION_COLUMNS}
_JSON = ("options", "queued")


def row(record: ScheduleRecord) -> dict[str, Any]:
    """Column values of a schedule, JSON encoded."""
    values = {name: getattr(record, name) for name in SCHEDULE_COLUMNS}
    for name in _JSON:
        values[name] = codec.dumps(values[name])
    return values


def decode(values: Sequence[Any]) -> ScheduleRecord:
    """A schedule from a row in `SCHEDULE_COLUMNS` order."""
    found = dict(zip(SCHEDULE_COLUMNS, values, strict=True))
    for name in _JSON:
        found[name] = codec.loads(found[name])
    found["paused"] = bool(found["paused"])
    return ScheduleRecord(**found)


def update_values(change: ScheduleUpdate) -> dict[str, Any]:
    """The columns a `ScheduleUpdate` writes, checked and encoded (`v_` prefixed)."""
    unknown = set(change.fields) - UPDATABLE
    if unknown:
        raise ValueError(f"schedule fields not updatable: {sorted(unknown)}")
    values = dict(change.fields)
    if "queued" in values:
        values["queued"] = codec.dumps(values["queued"])
    return {f"v_{name}": value for name, value in values.items()}


def lost(change: ScheduleUpdate, revision: int | None) -> Exception:
    """Why a guarded schedule write touched no row: gone, or changed since it was read."""
    if revision is None:
        return NotFoundError(f"schedule {change.id} not found")
    return ConflictError(
        f"schedule {change.id} is at revision {revision}, not {change.revision}: changed since read"
    )


def update_params(change: ScheduleUpdate) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The sorted field names and the parameters of a guarded schedule write."""
    values = update_values(change)
    fields = tuple(sorted(name[2:] for name in values))
    return fields, {**values, "k_id": change.id, "k_revision": change.revision}


def apply_update_in_memory(record: ScheduleRecord, fields: Mapping[str, Any]) -> None:
    """Apply a checked update's fields to an in-memory record and bump its revision."""
    update_values(ScheduleUpdate(record.id, record.revision, dict(fields)))  # checks names
    for name, value in fields.items():
        setattr(record, name, list(value) if name == "queued" else value)
    record.revision += 1


def merge_due(
    due: list[ScheduleRecord], queued: list[ScheduleRecord], limit: int
) -> list[ScheduleRecord]:
    """The due schedules and those holding queued fires, once each, soonest due first, at
    most `limit` (a tick reads both sets by index and takes them together)."""
    seen = {record.id for record in due}
    merged = due + [record for record in queued if record.id not in seen]
    merged.sort(key=lambda r: (r.due_at is None, r.due_at or 0.0))
    return merged[:limit]
