"""How many of a task's attempts were preempted: `tasks.preemptions`.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

A critical task that cannot start may stop running preemptible tasks of lower classes; each
stopped attempt is re-queued without spending a retry and counted here (the `task.preempted`
event says who preempted whom).  Frozen history: never imports `store.tables`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the counter; existing rows were never preempted."""
    op.add_column(
        "tasks", sa.Column("preemptions", sa.Integer(), nullable=False, server_default="0")
    )


def downgrade() -> None:
    """Drop the column again."""
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("preemptions")
