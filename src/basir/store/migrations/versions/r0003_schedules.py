"""Schedules: one row per `on.schedule` entry, with its next fire and its pause flag.

Revision ID: 0003
Revises: 0001
Create Date: 2026-12-01

Frozen history: this file describes the table as it was at revision 0003 and never imports
`store.tables`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create `schedules` with its indexes (by workflow, and by due time for the tick)."""
    op.create_table(
        "schedules",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("workflow", sa.String(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("cron", sa.String(), nullable=False),
        sa.Column("timezone", sa.String(), nullable=False),
        sa.Column("options", sa.Text(), nullable=False),
        sa.Column("spec_hash", sa.String(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("paused_at", sa.Float(), nullable=True),
        sa.Column("next_fire_at", sa.Float(), nullable=True),
        sa.Column("due_at", sa.Float(), nullable=True),
        sa.Column("last_fire_at", sa.Float(), nullable=True),
        sa.Column("last_run_id", sa.String(), nullable=True),
        sa.Column("queued", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_schedules"),
    )
    op.create_index("ix_schedules_workflow_position", "schedules", ["workflow", "position"])
    op.create_index("ix_schedules_due_at", "schedules", ["due_at"])


def downgrade() -> None:
    """Drop `schedules`."""
    op.drop_index("ix_schedules_due_at", table_name="schedules")
    op.drop_index("ix_schedules_workflow_position", table_name="schedules")
    op.drop_table("schedules")
