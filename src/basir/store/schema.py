"""Creating, versioning and migrating the schema, the same way on SQLite and PostgreSQL.

The schema version is recorded where Alembic keeps it (table `alembic_version`), so the
`alembic` tooling and `ensure_schema` agree.  An empty database gets `metadata.create_all` and
is stamped with `SCHEMA_REVISION` (fast: no migration scripts are loaded); a database at an
older revision is upgraded by the scripts in `store/migrations/versions`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from basir.store.base import StoreError
from basir.store.tables import SCHEMA_REVISION, metadata

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

# Exactly the table Alembic itself creates to record the revision.
_version_metadata = sa.MetaData()
alembic_version = sa.Table(
    "alembic_version",
    _version_metadata,
    sa.Column("version_num", sa.String(32), nullable=False),
    sa.PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


def alembic_config(connection: sa.Connection | None = None, url: str | None = None) -> Config:
    """An Alembic configuration for our migrations, bound to a connection or a URL."""
    from alembic.config import Config  # Alembic loads only when a migration runs

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def current_revision(conn: sa.Connection) -> str | None:
    """The schema revision recorded in the database, None when it has none."""
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    value = conn.execute(sa.select(alembic_version.c.version_num)).scalar()
    return None if value is None else str(value)


def upgrade(conn: sa.Connection, revision: str = "head") -> None:
    """Run the migration scripts on `conn` up to `revision`."""
    from alembic import command
    from alembic.util import CommandError

    try:
        command.upgrade(alembic_config(conn), revision)
    except CommandError as exc:
        raise StoreError(f"cannot migrate the database schema: {exc}") from exc


def ensure_schema(conn: sa.Connection) -> str:
    """Bring the database on `conn` to `SCHEMA_REVISION` and return the revision.

    Call it inside a transaction that serialises concurrent openers (SQLite `BEGIN IMMEDIATE`,
    a PostgreSQL advisory lock).
    """
    revision = current_revision(conn)
    if revision == SCHEMA_REVISION:
        return revision
    if revision is None:
        if sa.inspect(conn).has_table("runs"):
            raise StoreError("the database has Basir tables but no schema revision; not guessing")
        metadata.create_all(conn)
        _version_metadata.create_all(conn)
        conn.execute(sa.insert(alembic_version).values(version_num=SCHEMA_REVISION))
        return SCHEMA_REVISION
    upgrade(conn)
    return SCHEMA_REVISION
