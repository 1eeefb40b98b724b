"""The time a scheduled or backfilled run stands for: `runs.logical_time`.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02

ISO 8601 in the schedule's own offset (`2026-12-02T02:00:00+03:00`), written when the clock
fires the run or a backfill creates it; null for runs started otherwise (and for those stored
before).  Frozen history: never imports `store.tables`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the nullable column (existing runs keep none)."""
    op.add_column("runs", sa.Column("logical_time", sa.String(), nullable=True))


def downgrade() -> None:
    """Drop the column again."""
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("logical_time")
