"""The audit log's chain, checked: pure functions over sealed entries (DESIGN invariant 8).

An entry's hash covers its fields and the hash before it (`store.audit_records`), so changing
any field of a stored entry, removing one or swapping two breaks the chain at that entry.
`Verifier` checks a log page by page (oldest first) so a long log never sits in memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from basir.store.audit_records import GENESIS, AuditEntry, canonical, entry_hash, seal
from basir.store.base import AuditStore

__all__ = [
    "GENESIS",
    "AuditEntry",
    "Verifier",
    "canonical",
    "entry_hash",
    "seal",
    "verify",
    "verify_log",
]
VERIFY_PAGE = 5000


class Verifier:
    """Walks a chain oldest first, across as many `feed` calls as pages."""

    def __init__(self) -> None:
        self.prev_id = 0
        self.prev_hash = GENESIS
        self.checked = 0
        self.broken: AuditEntry | None = None

    def feed(self, entries: Iterable[AuditEntry]) -> int | None:
        """Check the next entries; the index (in this call) of the first broken one, or None.

        After a break the verifier stops: later calls return None and `broken` keeps it.
        """
        if self.broken is not None:
            return None
        for index, entry in enumerate(entries):
            intact = (
                entry.id == self.prev_id + 1
                and entry.prev_hash == self.prev_hash
                and entry.hash == entry_hash(entry, entry.prev_hash)
            )
            if not intact:
                self.broken = entry
                return index
            self.prev_id, self.prev_hash = entry.id, entry.hash
            self.checked += 1
        return None


def verify(entries: Iterable[AuditEntry]) -> int | None:
    """The index of the first entry whose link is broken in a whole log (oldest first), or
    None when every entry is numbered, chained and hashed as sealed."""
    return Verifier().feed(entries)


async def verify_log(store: AuditStore, page_size: int = VERIFY_PAGE) -> dict[str, Any]:
    """Walk a store's whole log oldest first, a page at a time: `{ok, entries,
    first_broken_id}` (`entries` counts every entry read), as `GET /audit/verify` shows it."""
    walker = Verifier()
    after, total = 0, 0
    while True:
        page = await store.audit_list(after_id=after, limit=page_size)
        total += len(page)
        walker.feed(page)
        if len(page) < page_size:
            break
        after = page[-1].id
    broken = walker.broken
    return {"ok": broken is None, "entries": total, "first_broken_id": broken and broken.id}
