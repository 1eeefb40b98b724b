"""The audit log part of the store contract, on every store."""

from __future__ import annotations

import asyncio

from basir.security.audit import GENESIS, AuditEntry, verify
from basir.store.base import Store


def entry(i: int, actor: str | None = "admin", when: float | None = None) -> AuditEntry:
    return AuditEntry(
        time=1000.0 + i if when is None else when,
        actor=actor,
        action="POST /api/v1/workflows/{name}/runs",
        target={"name": f"wf{i}", "عربي": "نعم"},
        status=201,
        detail={"token": "ci"},
    )


async def test_appended_entries_are_numbered_chained_and_read_back(store: Store) -> None:
    sealed = await store.audit_append([entry(0), entry(1)])
    assert [e.id for e in sealed] == [1, 2] and sealed[0].prev_hash == GENESIS
    more = await store.audit_append([entry(2)])
    assert more[0].id == 3 and more[0].prev_hash == sealed[1].hash
    oldest_first = await store.audit_list(after_id=0, limit=10)
    assert oldest_first == sealed + more
    assert verify(oldest_first) is None
    assert await store.audit_append([]) == []


async def test_listing_pages_and_filters(store: Store) -> None:
    await store.audit_append(
        [entry(i, actor="admin" if i % 2 else "viewer") for i in range(10)] + [entry(10, None)]
    )
    newest = await store.audit_list(limit=3)
    assert [e.id for e in newest] == [11, 10, 9]
    below = await store.audit_list(before_id=9, limit=3)
    assert [e.id for e in below] == [8, 7, 6]
    after = await store.audit_list(after_id=8, limit=2)
    assert [e.id for e in after] == [9, 10]
    admins = await store.audit_list(actor="admin", limit=100)
    assert [e.id for e in admins] == [10, 8, 6, 4, 2]
    window = await store.audit_list(since=1003.0, until=1006.0, limit=100)
    assert [e.id for e in window] == [6, 5, 4]
    assert (await store.audit_list(limit=1, before_id=2))[0].actor == "viewer"
    assert (await store.audit_list(limit=1))[0].actor is None


async def test_concurrent_appends_form_one_chain(make_store) -> None:  # type: ignore[no-untyped-def]
    first = await make_store()
    second = await make_store()
    stores = [first, second] if first.url != "memory://" else [first, first]

    async def append(s: Store, i: int) -> None:
        await s.audit_append([entry(i), entry(i + 1000)])

    await asyncio.gather(*(append(stores[i % 2], i) for i in range(20)))
    log = await first.audit_list(after_id=0, limit=1000)
    assert len(log) == 40
    assert verify(log) is None
