"""A partial index on the schedules holding queued fires: `ix_schedules_queued`.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

The clock's tick reads the due schedules by a range search of `ix_schedules_due_at` and the
ones with queued fires (`overlap: queue`) through this index, so a tick never scans the table
however many schedules are registered.  Frozen history: never imports `store.tables`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

HAS_QUEUED = "queued != '[]'"


def upgrade() -> None:
    """Create the partial index (on SQLite and PostgreSQL alike)."""
    op.create_index(
        "ix_schedules_queued",
        "schedules",
        ["id"],
        sqlite_where=sa.text(HAS_QUEUED),
        postgresql_where=sa.text(HAS_QUEUED),
    )


def downgrade() -> None:
    """Drop the index again."""
    op.drop_index("ix_schedules_queued", table_name="schedules")
