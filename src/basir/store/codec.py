"""Records ⇄ rows: column orders, JSON payloads, update-field checks and page cursors.

Shared by every store so that each one reads and writes exactly the same values.  Rows are
positional, in the column order of `RUN_COLUMNS` / `TASK_COLUMNS` / …, which is also the order
the `SELECT`s of `store.queries` return.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import operator
from collections.abc import Mapping, Sequence
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

from basir.states import RUN_ACTIVE, RunStatus
from basir.store.records import (
    EVENT_SOURCE,
    EventRecord,
    Page,
    RunRecord,
    TaskRecord,
    WorkflowVersion,
    cloudevent_time,
)

RUN_COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(RunRecord))
TASK_COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(TaskRecord))
EVENT_COLUMNS: tuple[str, ...] = (
    "id",
    "time",
    "type",
    "subject",
    "run_id",
    "workflow",
    "task_id",
    "data",
)
WORKFLOW_COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(WorkflowVersion))
# What an insert writes: a task's columns plus its order in the run; an event's but its id.
TASK_INSERT_COLUMNS: tuple[str, ...] = (*TASK_COLUMNS, "seq")
EVENT_INSERT_COLUMNS: tuple[str, ...] = EVENT_COLUMNS[1:]

# Columns holding JSON text; everything else is stored as it is.
RUN_JSON = frozenset({"params"})
TASK_JSON = frozenset({"outputs", "item", "spec", "usage"})

# Fields a RunUpdate / TaskUpdate may set (the keys are not updatable).
RUN_UPDATABLE = frozenset(RUN_COLUMNS) - {"id"}
TASK_UPDATABLE = frozenset(TASK_COLUMNS) - {"run_id", "task_id"}

# The run statuses a restart must resume, as plain text bind values in a fixed order (one
# cached statement whatever the hash seed).
ACTIVE_RUN_STATUSES: tuple[str, ...] = tuple(s.value for s in RunStatus if s in RUN_ACTIVE)

_NULLABLE_JSON = frozenset({"item", "spec", "usage"})
_PARAMS = RUN_COLUMNS.index("params")
_OUTPUTS = TASK_COLUMNS.index("outputs")
_ITEM = TASK_COLUMNS.index("item")
_SPEC = TASK_COLUMNS.index("spec")
_HELD = TASK_COLUMNS.index("held")
_USAGE = TASK_COLUMNS.index("usage")
_task_attrs = operator.attrgetter(*TASK_COLUMNS)


# One encoder for every payload: `json.dumps` with options builds a new one per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_SOURCE_JSON = encode_basestring(EVENT_SOURCE)
_decode = json.JSONDecoder().decode
# ... and `JSONEncoder.encode` still builds its C encoder on every call: build it once (no
# circular-reference markers: payloads are decoded JSON or built from plain values).
_C_ENCODE = (
    None
    if c_make_encoder is None
    else c_make_encoder(
        None, _ENCODER.default, encode_basestring, None, ":", ",", False, False, True
    )
)


def dumps(value: Any) -> str:
    """Compact JSON text; non-ASCII (Arabic) kept as it is."""
    if isinstance(value, dict) and not value:  # most outputs, params and event data
        return "{}"
    if isinstance(value, list) and not value:  # a schedule's queue, mostly
        return "[]"
    if _C_ENCODE is not None:
        return "".join(_C_ENCODE(value, 0))
    return _ENCODER.encode(value)


def loads(text: str) -> Any:
    """A JSON payload back from its text."""
    return {} if text == "{}" else _decode(text)


def page_of(found: list[RunRecord], limit: int) -> Page:
    """The first `limit` of up to `limit + 1` runs, with a cursor when there are more."""
    items = found[:limit]
    if len(found) > limit and items:
        return Page(items, encode_cursor(items[-1].created_at, items[-1].id))
    return Page(items, None)


def _loads_or_none(text: str | None) -> Any:
    return None if text is None else loads(text)


_run_attrs = operator.attrgetter(*RUN_COLUMNS)


def run_values(run: RunRecord) -> tuple[Any, ...]:
    """Column values of a run in `RUN_COLUMNS` order, JSON encoded."""
    values = list(_run_attrs(run))
    values[_PARAMS] = dumps(run.params)
    return tuple(values)


def run_row(run: RunRecord) -> dict[str, Any]:
    """Column values of a run, JSON encoded."""
    row = {name: getattr(run, name) for name in RUN_COLUMNS}
    row["params"] = dumps(run.params)
    return row


def task_values(task: TaskRecord, seq: int) -> tuple[Any, ...]:
    """Column values of a task in `TASK_INSERT_COLUMNS` order, JSON encoded."""
    values = list(_task_attrs(task))
    values[_OUTPUTS] = dumps(task.outputs)
    values[_ITEM] = None if task.item is None else dumps(task.item)
    values[_SPEC] = None if task.spec is None else dumps(task.spec)
    values[_HELD] = bool(task.held)
    values[_USAGE] = None if task.usage is None else dumps(task.usage)
    values.append(seq)
    return tuple(values)


# A new task as a new run creates it: its keys, status and time, every other column at its
# default (`sqlite_sql.insert_fresh_tasks_sqlite` writes those defaults as literals).
FRESH_TASK_COLUMNS: tuple[str, ...] = ("run_id", "task_id", "status", "updated_at", "seq")
_rest_of_fresh = operator.itemgetter(
    *(i for i, name in enumerate(TASK_COLUMNS) if name not in FRESH_TASK_COLUMNS)
)
_FRESH_DEFAULTS = _rest_of_fresh(_task_attrs(TaskRecord("", "", "")))


def fresh_task_values(task: TaskRecord, seq: int) -> tuple[Any, ...] | None:
    """`FRESH_TASK_COLUMNS` of a task whose other columns all hold their defaults; None for
    any other task (it needs every column: `task_values`)."""
    if _rest_of_fresh(_task_attrs(task)) != _FRESH_DEFAULTS:
        return None
    return (task.run_id, task.task_id, task.status, task.updated_at, seq)


def task_row(task: TaskRecord, seq: int) -> dict[str, Any]:
    """Column values of a task with its insertion order `seq`, by column name."""
    return dict(zip(TASK_INSERT_COLUMNS, task_values(task, seq), strict=True))


def event_values(event: EventRecord) -> tuple[Any, ...]:
    """Column values of an event in `EVENT_INSERT_COLUMNS` order (the database assigns `id`)."""
    return (
        event.time,
        event.type,
        event.subject,
        event.run_id,
        event.workflow,
        event.task_id,
        dumps(event.data),
    )


def event_row(event: EventRecord) -> dict[str, Any]:
    """Column values of an event (without its id), by column name."""
    return dict(zip(EVENT_INSERT_COLUMNS, event_values(event), strict=True))


def update_values(kind: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The column values of a guarded update's `fields`, checked and JSON encoded.

    Raises `ValueError` for a field that is not an updatable column: that is a bug in the
    caller, never a race.
    """
    allowed, json_cols = (RUN_UPDATABLE, RUN_JSON) if kind == "run" else (TASK_UPDATABLE, TASK_JSON)
    values: dict[str, Any] = {}
    for name, value in fields.items():
        if name not in allowed:
            raise ValueError(f"{kind} field {name!r} cannot be updated")
        if name in json_cols:
            if value is None and name in _NULLABLE_JSON:
                values[name] = None
            else:
                values[name] = dumps({} if value is None else value)
        elif name == "held":
            values[name] = bool(value)
        else:
            values[name] = value
    return values


def decode_run(row: Sequence[Any]) -> RunRecord:
    """A run from a row in `RUN_COLUMNS` order."""
    values = list(row)
    values[_PARAMS] = loads(values[_PARAMS])
    return RunRecord(*values)


def decode_task(row: Sequence[Any]) -> TaskRecord:
    """A task from a row in `TASK_COLUMNS` order."""
    values = list(row)
    values[_OUTPUTS] = loads(values[_OUTPUTS])
    values[_ITEM] = _loads_or_none(values[_ITEM])
    values[_SPEC] = _loads_or_none(values[_SPEC])
    values[_HELD] = bool(values[_HELD])
    values[_USAGE] = _loads_or_none(values[_USAGE])
    return TaskRecord(*values)


def decode_event(row: Sequence[Any]) -> EventRecord:
    """An event from a row in `EVENT_COLUMNS` order."""
    id_, time, type_, subject, run_id, workflow, task_id, data = row
    return EventRecord(
        type=type_,
        subject=subject,
        time=time,
        data=loads(data),
        run_id=run_id,
        workflow=workflow,
        task_id=task_id,
        id=id_,
    )


def event_line(row: Sequence[Any]) -> tuple[int, float, str]:
    """An event row as `(id, time, its CloudEvent as one line of JSON)`, for exports.

    The stored `data` text goes into the line as it is: decoding it only to encode it again
    would cost more than the rest of the row.
    """
    id_, time, type_, subject, _run_id, _workflow, _task_id, data = row
    body = data if isinstance(data, str) else dumps(data)
    # The text `_ENCODER` gives for the dict of `EventRecord.to_cloudevent`, written directly:
    # a million of these is an export (strings quoted by the encoder's own C function).
    return (
        id_,
        time,
        f'{{"id":"{id_}","type":{encode_basestring(type_)},"source":{_SOURCE_JSON},'
        f'"specversion":"1.0","time":"{cloudevent_time(time)}",'
        f'"subject":{encode_basestring(subject)},"data":{body}}}',
    )


def decode_workflow(row: Sequence[Any]) -> WorkflowVersion:
    """A workflow version from a row in `WORKFLOW_COLUMNS` order."""
    name, version, namespace, spec, spec_hash, created_at, created_by = row
    return WorkflowVersion(name, version, namespace, loads(spec), spec_hash, created_at, created_by)


def encode_cursor(created_at: float, run_id: str) -> str:
    """An opaque, URL-safe cursor after the run (`created_at`, `run_id`) of a listing."""
    raw = json.dumps([created_at, run_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """The position a cursor of `encode_cursor` stands for; `ValueError` when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, run_id = json.loads(raw)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ValueError(f"invalid cursor {cursor!r}") from exc
    if not isinstance(created_at, int | float) or not isinstance(run_id, str):
        raise ValueError(f"invalid cursor {cursor!r}")
    return float(created_at), run_id
