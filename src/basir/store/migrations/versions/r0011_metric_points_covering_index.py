"""The metric history's read index covers the read: `(name, resolution_s, time, labels, value)`.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01

`GET /api/v1/metrics/query` reads `labels, time, value` of one name at one resolution over a
time range.  With the old index `(name, resolution_s, time)` the database looked each point up
in the table and sorted the result; the covering index returns the points in its own order
(time, then labels) without either.  Frozen history: never imports `store.tables`.
"""

from __future__ import annotations

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None

OLD = "ix_metric_points_name_resolution_s_time"
NEW = "ix_metric_points_name_resolution_s_time_labels_value"


def upgrade() -> None:
    """Replace the range index by the covering one."""
    op.create_index(NEW, "metric_points", ["name", "resolution_s", "time", "labels", "value"])
    op.drop_index(OLD, table_name="metric_points")


def downgrade() -> None:
    """Back to the range index."""
    op.create_index(OLD, "metric_points", ["name", "resolution_s", "time"])
    op.drop_index(NEW, table_name="metric_points")
