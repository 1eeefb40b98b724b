"""Audit log entries and the hash that chains them, free of SQLAlchemy and of I/O.

Every store seals entries with `seal` inside the transaction that inserts them: an entry's
`prev_hash` is the `hash` of the entry before it (`GENESIS` for the first) and its `hash` is
`sha256(prev_hash + canonical JSON of its fields)`.  Ids are consecutive from 1, so a removed
entry shows as a gap as well as a broken link.  `basir.security.audit` verifies a chain.
These few lines live in the store, the bottom layer, because the store must chain entries
itself: only there is the last hash known under the same lock as the insert.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from basir.store.records import JsonDict

# The `prev_hash` of the first entry.
GENESIS = "0" * 64
AUDIT_COLUMNS = ("id", "time", "actor", "action", "target", "status", "detail", "prev_hash", "hash")
_JSON_COLUMNS = ("target", "detail")


@dataclass(slots=True)
class AuditEntry:
    """One recorded action: who (`actor`, None when unknown), what (`action`, e.g.
    `POST /api/v1/workflows/{name}/runs`), on what (`target`, the path parameters), how it
    ended (`status`, the HTTP status) and when.  `id`, `prev_hash` and `hash` are set by the
    store when it appends the entry."""

    time: float
    actor: str | None
    action: str
    target: JsonDict = field(default_factory=dict)
    status: int = 0
    detail: JsonDict = field(default_factory=dict)
    id: int = 0
    prev_hash: str = ""
    hash: str = ""


def canonical(entry: AuditEntry) -> str:
    """The hashed text of an entry: its fields but the two hashes, as sorted compact JSON."""
    fields = {
        "id": entry.id,
        "time": entry.time,
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "status": entry.status,
        "detail": entry.detail,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(entry: AuditEntry, prev_hash: str) -> str:
    """sha256 (hex) of `prev_hash` followed by the entry's canonical JSON."""
    return hashlib.sha256((prev_hash + canonical(entry)).encode("utf-8")).hexdigest()


def seal(entries: list[AuditEntry], last_id: int, last_hash: str) -> list[AuditEntry]:
    """Copies of `entries` numbered after `last_id` and chained after `last_hash`."""
    sealed = []
    prev = last_hash
    for offset, entry in enumerate(entries, start=1):
        item = dataclasses.replace(entry, id=last_id + offset, prev_hash=prev, hash="")
        item.hash = entry_hash(item, prev)
        prev = item.hash
        sealed.append(item)
    return sealed


def entry_params(entry: AuditEntry) -> dict[str, Any]:
    """The bind parameters of one sealed entry (JSON fields as text)."""
    values = {n: getattr(entry, n) for n in AUDIT_COLUMNS}
    for name in _JSON_COLUMNS:
        values[name] = json.dumps(values[name], sort_keys=True, ensure_ascii=False)
    return values


def decode_entry(row: Any) -> AuditEntry:
    """An entry from a row in `AUDIT_COLUMNS` order."""
    values = dict(zip(AUDIT_COLUMNS, row, strict=True))
    for name in _JSON_COLUMNS:
        values[name] = json.loads(values[name]) if values[name] else {}
    values["id"] = int(values["id"])
    values["status"] = int(values["status"])
    values["time"] = float(values["time"])
    return AuditEntry(**values)
