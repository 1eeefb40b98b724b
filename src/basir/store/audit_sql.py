"""The audit log verbs shared by the SQL stores (reads) and SQLite's append job."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from basir.store.audit_memory import check_list_args
from basir.store.audit_records import GENESIS, AuditEntry, decode_entry, entry_params, seal
from basir.store.sqlite_sql import statement

T = TypeVar("T")


def append_sqlite(conn: sqlite3.Connection, entries: list[AuditEntry]) -> list[AuditEntry]:
    """Seal `entries` after the newest row and insert them (on the writer's transaction)."""
    last = statement("audit_queries.last_entry")
    row = conn.execute(last.text, last.params({})).fetchone()
    sealed = seal(entries, int(row[0]) if row else 0, str(row[1]) if row else GENESIS)
    insert = statement("audit_queries.insert_entry")
    conn.executemany(insert.text, [insert.params(entry_params(e)) for e in sealed])
    return sealed


def list_query(
    before_id: int | None,
    after_id: int | None,
    limit: int,
    actor: str | None,
    since: float | None,
    until: float | None,
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The named query and parameters of an `audit_list` call."""
    check_list_args(before_id, after_id, limit)
    params: dict[str, Any] = {"limit": limit}
    direction = None
    if after_id is not None:
        direction, params["after_id"] = "after", after_id
    elif before_id is not None:
        direction, params["before_id"] = "before", before_id
    for name, value in (("actor", actor), ("since", since), ("until", until)):
        if value is not None:
            params[name] = value
    query = ("audit_queries.list_entries", direction, actor is not None)
    return (*query, since is not None, until is not None), params


class AuditReads:
    """`audit_list` over a store's `_select`."""

    async def _select(
        self, query: Any, params: dict[str, Any], decode: Callable[[Sequence[Any]], T]
    ) -> list[T]:
        raise NotImplementedError

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
        query, params = list_query(before_id, after_id, limit, actor, since, until)
        return await self._select(query, params, decode_entry)
