"""Monitoring: tables metric_points (metric history and its rollups) and alerts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

Frozen history: describes the tables as they are at revision 0004 and never imports
`store.tables`.  (After 0002, attempt processes, and 0003, schedules.)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def _alerts() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("rule", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("severity", sa.String(), nullable=False),
        sa.Column("workflow", sa.String(), nullable=True),
        sa.Column("run_id", sa.String(), nullable=True),
        sa.Column("fired_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("resolved_at", sa.Float(), nullable=True),
        sa.Column("acked_by", sa.String(), nullable=True),
        sa.Column("acked_at", sa.Float(), nullable=True),
        sa.Column("silenced_by", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
    )
    op.create_index("ix_alerts_state_fired_at", "alerts", ["state", "fired_at"])
    op.create_index("ix_alerts_fired_at", "alerts", ["fired_at"])
    op.create_index("ix_alerts_workflow_state", "alerts", ["workflow", "state"])


def upgrade() -> None:
    """Create `metric_points` and `alerts` with their indexes."""
    _alerts()
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
    """Drop `metric_points` and `alerts`."""
    op.drop_table("alerts")
    op.drop_table("metric_points")
