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


_OPTIONS = SCHEDULE_COLUMNS.index("options")
_QUEUED = SCHEDULE_COLUMNS.index("queued")
_PAUSED = SCHEDULE_COLUMNS.index("paused")


def decode(values: Sequence[Any]) -> ScheduleRecord:
    """A schedule from a row in `SCHEDULE_COLUMNS` order (a tick decodes every due one)."""
    if len(values) != len(SCHEDULE_COLUMNS):
        raise ValueError(f"a schedule row has {len(SCHEDULE_COLUMNS)} columns, not {len(values)}")
    found = list(values)
    found[_OPTIONS] = codec.loads(found[_OPTIONS])
    queued = found[_QUEUED]
    found[_QUEUED] = [] if queued == "[]" else codec.loads(queued)
    found[_PAUSED] = bool(found[_PAUSED])
    return ScheduleRecord(*found)


def update_values(change: ScheduleUpdate) -> dict[str, Any]:
    """The columns a `ScheduleUpdate` writes, checked and encoded (`v_` prefixed)."""
    unknown = set(change.fields) - UPDATABLE
    if unknown:
        raise ValueError(f"schedule fields not updatable: {sorted(unknown)}")
    values = dict(change.fields)
    if "queued" in values:
        values["queued"] = codec.dumps(values["queued"])
    return {f"v_{name}": value for name, value in values.items()}


def update_row(change: ScheduleUpdate) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """The sorted field names of a guarded schedule write and its positional parameters:
    the id, the revision read, then the encoded values in field order (a tick's thousand
    writes go through this, so it skips the dicts of `update_params`)."""
    given = change.fields
    if not given.keys() <= UPDATABLE:
        raise ValueError(f"schedule fields not updatable: {sorted(set(given) - UPDATABLE)}")
    fields = tuple(sorted(given))
    values = [given[name] for name in fields]
    if "queued" in given:
        at = fields.index("queued")
        values[at] = codec.dumps(values[at])
    return fields, (change.id, change.revision, *values)


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
    if not queued:  # the usual tick: `due` comes soonest first from its index already
        return due[:limit]
    seen = {record.id for record in due}
    merged = due + [record for record in queued if record.id not in seen]
    merged.sort(key=lambda r: (r.due_at is None, r.due_at or 0.0))
    return merged[:limit]


RUN_STATUS_CHUNK = 256  # ids per statement: one shape, padded (see `run_status_params`;
# `schedule_sql.select_run_statuses` is the statement)
_RUN_STATUS_NAMES = tuple(f"r{i}" for i in range(RUN_STATUS_CHUNK))


def run_status_params(run_ids: list[str]) -> list[dict[str, str]]:
    """Parameters of `select_run_statuses` for `run_ids`, one dict per chunk (the last padded
    with its own first id, so every call has the one shape the catalogue holds)."""
    chunks: list[dict[str, str]] = []
    for start in range(0, len(run_ids), RUN_STATUS_CHUNK):
        part = run_ids[start : start + RUN_STATUS_CHUNK]
        part = part + [part[0]] * (RUN_STATUS_CHUNK - len(part))
        chunks.append(dict(zip(_RUN_STATUS_NAMES, part, strict=True)))
    return chunks
