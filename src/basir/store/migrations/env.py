"""Alembic environment: migrates the connection `store.schema` hands over, or a URL.

Run programmatically (`basir.store.schema.upgrade`) with `config.attributes["connection"]`
set, or with `sqlalchemy.url` set for offline SQL or the `alembic` command line; a
`postgresql://` URL is driven through asyncpg.
"""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

from basir.store.tables import metadata

config = context.config


def _migrate(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite alters tables by copying them ("batch" mode).
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _migrate_async(url: str) -> None:
    engine = create_async_engine(url, poolclass=sa.NullPool)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_migrate)
    finally:
        await engine.dispose()


def _online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or ""
    if url.startswith("postgresql"):
        asyncio.run(_migrate_async(url.replace("postgresql://", "postgresql+asyncpg://", 1)))
        return
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.begin() as conn:
            _migrate(conn)
    finally:
        engine.dispose()


def _offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    _offline()
else:
    _online()
