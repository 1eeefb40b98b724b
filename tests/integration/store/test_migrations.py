"""Alembic migrations: an empty database upgraded to head has exactly the `create_all` schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine
from store_pg import pg_url, reset_pg_schema

from basir.store import schema
from basir.store.postgres import async_url
from basir.store.tables import SCHEMA_REVISION, metadata


def describe_schema(conn: sa.Connection) -> dict[str, Any]:
    """Tables with their columns, types, keys and indexes, comparable across databases."""
    insp = sa.inspect(conn)
    found: dict[str, Any] = {}
    for table in sorted(insp.get_table_names()):
        pk = insp.get_pk_constraint(table)
        found[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], c.get("autoincrement"))
                for c in insp.get_columns(table)
            ],
            "pk": (pk["name"], pk["constrained_columns"]),
            "fks": sorted(
                (fk["name"], fk["constrained_columns"], fk["referred_table"], str(fk["options"]))
                for fk in insp.get_foreign_keys(table)
            ),
            "indexes": sorted(
                (ix["name"], tuple(ix["column_names"]), ix["unique"])
                for ix in insp.get_indexes(table)
            ),
        }
    if conn.dialect.name == "sqlite":  # the DDL itself, e.g. AUTOINCREMENT of events.id
        rows = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL")
        found["sqlite_master"] = sorted((name, " ".join(sql.split())) for name, sql in rows)
    return found


def _sqlite_engine(path: Path) -> sa.Engine:
    return sa.create_engine(f"sqlite:///{path}", poolclass=sa.NullPool)


def test_alembic_head_is_the_schema_revision() -> None:
    script = ScriptDirectory.from_config(schema.alembic_config())
    assert script.get_current_head() == SCHEMA_REVISION
    assert len(list(script.walk_revisions())) >= 1


def test_sqlite_upgrade_from_empty_equals_create_all(tmp_path: Path) -> None:
    created, migrated = _sqlite_engine(tmp_path / "a.db"), _sqlite_engine(tmp_path / "b.db")
    with created.begin() as conn:
        assert schema.ensure_schema(conn) == SCHEMA_REVISION
        expected = describe_schema(conn)
    with migrated.begin() as conn:
        schema.upgrade(conn)
        actual = describe_schema(conn)
    assert set(metadata.tables) < set(expected)
    assert actual == expected
    created.dispose()
    migrated.dispose()


def test_created_schema_is_at_head_for_alembic(tmp_path: Path) -> None:
    engine = _sqlite_engine(tmp_path / "a.db")
    with engine.begin() as conn:
        schema.ensure_schema(conn)
    with engine.begin() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == SCHEMA_REVISION
        before = describe_schema(conn)
        schema.upgrade(conn)  # nothing to do
        assert schema.ensure_schema(conn) == SCHEMA_REVISION
        assert describe_schema(conn) == before
    engine.dispose()


def test_sqlite_downgrade_to_base_and_back(tmp_path: Path) -> None:
    engine = _sqlite_engine(tmp_path / "a.db")
    with engine.begin() as conn:
        schema.upgrade(conn)
        head = describe_schema(conn)
    with engine.begin() as conn:
        from alembic import command

        command.downgrade(schema.alembic_config(conn), "base")
        assert set(sa.inspect(conn).get_table_names()) <= {"alembic_version"}
    with engine.begin() as conn:
        assert schema.ensure_schema(conn) == SCHEMA_REVISION
        assert describe_schema(conn) == head
    engine.dispose()


@pytest.mark.postgres
async def test_postgres_upgrade_from_empty_equals_create_all(pg_database: str) -> None:
    engine = create_async_engine(async_url(pg_url(pg_database)))
    try:
        await reset_pg_schema(pg_database)
        async with engine.begin() as conn:
            assert await conn.run_sync(schema.ensure_schema) == SCHEMA_REVISION
            expected = await conn.run_sync(describe_schema)
        await reset_pg_schema(pg_database)
        async with engine.begin() as conn:
            await conn.run_sync(schema.upgrade)
            actual = await conn.run_sync(describe_schema)
            assert await conn.run_sync(schema.current_revision) == SCHEMA_REVISION
    finally:
        await engine.dispose()
    assert set(metadata.tables) < set(expected)
    assert actual == expected
