"""The audit log verbs of `MemoryStore`, kept apart to keep that module small."""

from __future__ import annotations

import copy

from basir.store.audit_records import GENESIS, AuditEntry, seal
from basir.store.base import StoreError


def check_list_args(before_id: int | None, after_id: int | None, limit: int) -> None:
    """Refuse a listing with both ids or a limit below 1 (every store alike)."""
    if before_id is not None and after_id is not None:
        raise StoreError("audit_list: give before_id or after_id, not both")
    if limit < 1:
        raise StoreError("audit_list: limit must be at least 1")


class MemoryAudit:
    """An append-only list of sealed entries."""

    _audit: list[AuditEntry]

    def _check_open(self) -> None:
        raise NotImplementedError

    async def audit_append(self, entries: list[AuditEntry]) -> list[AuditEntry]:
        """Number and chain `entries` after the newest one and keep them."""
        self._check_open()
        if not entries:
            return []
        last = self._audit[-1] if self._audit else None
        sealed = seal(entries, last.id if last else 0, last.hash if last else GENESIS)
        self._audit.extend(copy.deepcopy(sealed))
        return sealed

    async def audit_list(
        self,
        *,
        before_id: int | None = None,
        after_id: int | None = None,
        limit: int = 100,
        actor: str | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> list[AuditEntry]:
        """Entries filtered; oldest first after `after_id`, else newest first."""
        check_list_args(before_id, after_id, limit)
        found = [
            e
            for e in self._audit
            if (after_id is None or e.id > after_id)
            and (before_id is None or e.id < before_id)
            and (actor is None or e.actor == actor)
            and (since is None or e.time >= since)
            and (until is None or e.time < until)
        ]
        if after_id is None:
            found.reverse()
        return copy.deepcopy(found[:limit])
