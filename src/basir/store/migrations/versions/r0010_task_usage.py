"""What a task's latest attempt used: `tasks.usage` (JSON); a grown memory limit.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

Written by the engine's usage sampler when an attempt ends: cpu seconds, peak cpu cores, peak
resident memory, samples taken (`resources.usage.summary`).  `tasks.memory_limit` is the
memory limit in bytes a retry grew after the task was stopped for its memory
(`retries.on_oom`), used instead of the declared `memory` from then on.  Frozen history:
never imports `store.tables`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the nullable column (existing rows were never sampled)."""
    op.add_column("tasks", sa.Column("usage", sa.Text(), nullable=True))
    op.add_column("tasks", sa.Column("memory_limit", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    """Drop the column again."""
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("memory_limit")
        batch.drop_column("usage")
