"""Bringing a SQLite store's schema to head, with plain `sqlite3` whenever that is enough.

A store at the current revision is checked with one `SELECT` on `alembic_version`; an empty
file gets the DDL of the shipped catalogue (exactly what `metadata.create_all` runs) and the
Alembic stamp.  Only a migration, or a catalogue that no longer matches the sources, goes
through SQLAlchemy and Alembic (`store.schema.ensure_schema`), as every opening did before.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from basir.store.base import StoreError
from basir.store.sqlite_sql import catalog, schema_ddl, schema_revision


def read_revision(conn: sqlite3.Connection) -> str | None:
    """The schema revision recorded in the database, None when it has none."""
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return None
        raise
    return None if row is None else str(row[0])


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return found is not None


def create_schema(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the database `conn` is open on to the head revision.

    `conn` is in autocommit mode (`isolation_level=None`).  Creation runs inside
    `BEGIN IMMEDIATE`, which serialises processes opening the same new file.
    """
    head = schema_revision()
    try:
        if head is not None and _create_fast(conn, head):
            return
    except sqlite3.Error as exc:
        raise StoreError(f"cannot create the schema in {path}: {exc}") from exc
    _create_with_sqlalchemy(path)


def _create_fast(conn: sqlite3.Connection, head: str) -> bool:
    """Check or create the schema with the catalogue; False when a migration is needed."""
    if read_revision(conn) == head:
        return True
    ddl, data = schema_ddl(), catalog()
    if ddl is None or data is None:
        return False
    conn.execute("BEGIN IMMEDIATE")
    try:
        revision = read_revision(conn)
        if revision is None:
            if _has_table(conn, "runs"):
                raise StoreError(
                    "the database has Basir tables but no schema revision; not guessing"
                )
            for text in ddl:
                conn.execute(text)
            conn.execute(str(data["stamp"]), {"version_num": head})
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return revision is None or revision == head


def _create_with_sqlalchemy(path: Path) -> None:
    """Create or migrate the schema through SQLAlchemy and Alembic (`ensure_schema`)."""
    import sqlalchemy as sa

    from basir.store.schema import ensure_schema

    engine = sa.create_engine(sa.URL.create("sqlite", database=str(path)), poolclass=sa.NullPool)

    @sa.event.listens_for(engine, "connect")
    def _connect_hook(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        dbapi_conn.execute("PRAGMA busy_timeout=5000")

    @sa.event.listens_for(engine, "begin")
    def _begin_hook(conn: sa.Connection) -> None:
        # Serialises processes opening the same new file; DDL is transactional in SQLite.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    try:
        with engine.begin() as conn:
            ensure_schema(conn)
    except sa.exc.DBAPIError as exc:
        raise StoreError(f"cannot create the schema in {path}: {exc.orig}") from exc
    finally:
        engine.dispose()
