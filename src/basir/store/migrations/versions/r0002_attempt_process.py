"""The process of a task's latest attempt: `tasks.attempt_pgid`, `tasks.attempt_proc_start`.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

Recorded before an attempt's body starts, so that after a crash the leftover process group of
an interrupted attempt is stopped before the task runs again (no twin attempts, DESIGN §2.7).
Frozen history: never imports `store.tables`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the two nullable columns (existing rows have no recorded process)."""
    op.add_column("tasks", sa.Column("attempt_pgid", sa.Integer(), nullable=True))
    op.add_column("tasks", sa.Column("attempt_proc_start", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    """Drop the two columns again."""
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("attempt_proc_start")
        batch.drop_column("attempt_pgid")
