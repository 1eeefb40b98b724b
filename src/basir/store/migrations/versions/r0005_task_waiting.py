"""Why a queued task waits for resources: `tasks.waiting`.

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-01

Set by the engine's admission ("waiting for cpu: 2/2 in use by run X task Y") while a task
waits for cpu, memory or pool slots, cleared when it starts.  Frozen history: never imports
`store.tables`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the nullable column (existing rows wait for nothing)."""
    op.add_column("tasks", sa.Column("waiting", sa.Text(), nullable=True))


def downgrade() -> None:
    """Drop the column again."""
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("waiting")
