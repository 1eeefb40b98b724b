"""PostgreSQL test databases: a fresh one per test module, an empty schema per test."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import asyncpg

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
PG_CONNECT_TIMEOUT_S = 3.0
PG_ERRORS = (OSError, asyncpg.PostgresError, TimeoutError)


async def pg_admin(sql: str, database: str = "postgres") -> None:
    """Run SQL as the `postgres` superuser in `database`."""
    conn = await asyncpg.connect(f"{PG_SERVER}/{database}", timeout=PG_CONNECT_TIMEOUT_S)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def pg_admin_sync(sql: str, database: str = "postgres") -> None:
    """`pg_admin` from sync code, even while an event loop runs in this thread."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, pg_admin(sql, database)).result()


async def reset_pg_schema(database: str) -> None:
    """Empty a test database: drop and recreate its `public` schema."""
    await pg_admin("DROP SCHEMA public CASCADE; CREATE SCHEMA public;", database)


def pg_url(database: str) -> str:
    """The store URL of a test database."""
    return f"{PG_SERVER}/{database}"
