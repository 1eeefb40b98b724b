"""Metric history: table metric_points (raw samples and per-minute / per-hour rollups).

Revision ID: 0004
Revises: 0001
Create Date: 2026-12-01

Frozen history: describes the table as it is at revision 0004 and never imports
`store.tables`.  (Other branches add 0002 and 0003; `down_revision` is relinked at merge.)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create `metric_points` and its indexes."""
    op.create_table(
        "metric_points",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("resolution_s", sa.Integer(), nullable=False),
        sa.Column("labels", sa.String(), nullable=False),
        sa.Column("time", sa.Float(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name", "resolution_s", "labels", "time", name="pk_metric_points"),
    )
    op.create_index(
        "ix_metric_points_name_resolution_s_time",
        "metric_points",
        ["name", "resolution_s", "time"],
    )
    op.create_index("ix_metric_points_resolution_s_time", "metric_points", ["resolution_s", "time"])


def downgrade() -> None:
    """Drop `metric_points`."""
    op.drop_table("metric_points")
