"""What only the PostgreSQL store promises beyond the contract."""

from __future__ import annotations

import pytest

from basir.store.base import StoreError
from basir.store.postgres import PostgresStore

pytestmark = pytest.mark.postgres


async def test_unreachable_server_is_a_store_error_without_credentials() -> None:
    store = PostgresStore("postgresql://basir:s3cret@127.0.0.1:1/nowhere")
    with pytest.raises(StoreError, match=r"cannot open the store 127\.0\.0\.1:1/nowhere") as info:
        await store.open()
    assert "s3cret" not in str(info.value)
    assert not await store.ping()
    await store.close()  # nothing to close


async def test_two_servers_share_one_database(pg_database: str) -> None:
    from store_pg import pg_url, reset_pg_schema

    from basir.store.records import Batch, EventRecord

    await reset_pg_schema(pg_database)
    a, b = PostgresStore(pg_url(pg_database)), PostgresStore(pg_url(pg_database))
    await a.open()
    await b.open()  # the schema exists: nothing to create
    try:
        (one,) = await a.write(Batch([], [EventRecord("x", "s", 1.0)]))
        (two,) = await b.write(Batch([], [EventRecord("y", "s", 1.0)]))
        assert two.id > one.id
        assert [e.type for e in await a.list_events()] == ["x", "y"]
        v1, _ = await a.put_workflow("ci", "default", {"v": 1}, "h1", None)
        v2, created = await b.put_workflow("ci", "default", {"v": 1}, "h1", None)
        assert (v2.version, created) == (v1.version, False)
    finally:
        await a.close()
        await b.close()
