"""The queue a task's latest attempt started in and its time held back: `tasks.queue`,
`tasks.throttled_s`.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

Set by the engine when an attempt starts (`engine.admission`): the named queue (`queue:`, else
`defaults.queue`), and the seconds it waited on queue slots, concurrency keys and rate limits;
read by the scheduler analytics (per-queue waits, time throttled).  Frozen history: never
imports `store.tables`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the nullable columns (existing rows: no queue, never throttled)."""
    op.add_column("tasks", sa.Column("queue", sa.String(), nullable=True))
    op.add_column("tasks", sa.Column("throttled_s", sa.Float(), nullable=True))


def downgrade() -> None:
    """Drop the columns again."""
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("throttled_s")
        batch.drop_column("queue")
