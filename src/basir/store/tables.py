"""The schema, as SQLAlchemy Core tables: the one description both dialects are built from.

Queryable fields are columns; JSON (stored as text, encoded by `store.codec`) only holds opaque
payloads.  Timestamps are float epoch seconds.  A change here needs a new Alembic revision in
`store/migrations/versions/` and a bump of `SCHEMA_REVISION`; a test checks that upgrading an
empty database to head yields exactly the schema `metadata.create_all` would.
"""

from __future__ import annotations

import sqlalchemy as sa

# The Alembic revision these tables correspond to (the head of `migrations/versions`).
SCHEMA_REVISION = "0012"

# SQLite only makes `INTEGER PRIMARY KEY` an alias of the rowid; PostgreSQL wants 64 bits.
EventId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

workflows = sa.Table(
    "workflows",
    metadata,
    sa.Column("name", sa.String(), primary_key=True),
    sa.Column("version", sa.Integer(), primary_key=True),
    sa.Column("namespace", sa.String(), nullable=False),
    sa.Column("spec", sa.Text(), nullable=False),
    sa.Column("spec_hash", sa.String(), nullable=False),
    sa.Column("created_at", sa.Float(), nullable=False),
    sa.Column("created_by", sa.String(), nullable=True),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(), primary_key=True),
    sa.Column("workflow", sa.String(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("status", sa.String(), nullable=False),
    sa.Column("params", sa.Text(), nullable=False),
    sa.Column("priority", sa.Integer(), nullable=False),
    sa.Column("deadline_at", sa.Float(), nullable=True),
    sa.Column("concurrency", sa.Integer(), nullable=True),
    sa.Column("created_at", sa.Float(), nullable=False),
    sa.Column("started_at", sa.Float(), nullable=True),
    sa.Column("finished_at", sa.Float(), nullable=True),
    sa.Column("updated_at", sa.Float(), nullable=False),
    sa.Column("trigger", sa.String(), nullable=False),
    sa.Column("created_by", sa.String(), nullable=True),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("namespace", sa.String(), nullable=False),
    sa.Column("logical_time", sa.String(), nullable=True),
    sa.Index(None, "status"),
    sa.Index(None, "workflow", "created_at"),
    # Listing pages newest first with `id` as the tiebreak of equal timestamps.
    sa.Index(None, "created_at", "id"),
)

tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column(
        "run_id",
        sa.String(),
        sa.ForeignKey("runs.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("task_id", sa.String(), primary_key=True),
    # Insertion order inside a run (get_tasks returns rows in this order).
    sa.Column("seq", sa.Integer(), nullable=False),
    sa.Column("status", sa.String(), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("outputs", sa.Text(), nullable=False),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("queued_at", sa.Float(), nullable=True),
    sa.Column("started_at", sa.Float(), nullable=True),
    sa.Column("finished_at", sa.Float(), nullable=True),
    sa.Column("updated_at", sa.Float(), nullable=False),
    sa.Column("next_attempt_at", sa.Float(), nullable=True),
    sa.Column("attempt_id", sa.String(), nullable=True),
    sa.Column("parent_id", sa.String(), nullable=True),
    sa.Column("item_index", sa.Integer(), nullable=True),
    sa.Column("item", sa.Text(), nullable=True),
    sa.Column("spec", sa.Text(), nullable=True),
    sa.Column("held", sa.Boolean(), nullable=False),
    sa.Column("hold_until", sa.Float(), nullable=True),
    sa.Index(None, "run_id", "seq"),
    # Added by revision 0002 (so after the index: ALTER TABLE appends columns).
    sa.Column("attempt_pgid", sa.Integer(), nullable=True),
    sa.Column("attempt_proc_start", sa.BigInteger(), nullable=True),
    # Added by revision 0005: why a queued task waits for resources.
    sa.Column("waiting", sa.Text(), nullable=True),
    # Added by revision 0006: attempts stopped by preemption (re-queued, no retry spent).
    sa.Column("preemptions", sa.Integer(), nullable=False, server_default="0"),
    # Added by revision 0009: the latest attempt's queue and its time held back by throttling.
    sa.Column("queue", sa.String(), nullable=True),
    sa.Column("throttled_s", sa.Float(), nullable=True),
    # Added by revision 0010: what the latest attempt used (JSON), once it has ended, and the
    # memory limit a retry grew (`retries.on_oom`).
    sa.Column("usage", sa.Text(), nullable=True),
    sa.Column("memory_limit", sa.BigInteger(), nullable=True),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", EventId, primary_key=True, autoincrement=True),
    sa.Column("time", sa.Float(), nullable=False),
    sa.Column("type", sa.String(), nullable=False),
    sa.Column("subject", sa.String(), nullable=False),
    sa.Column("run_id", sa.String(), nullable=True),
    sa.Column("workflow", sa.String(), nullable=True),
    sa.Column("task_id", sa.String(), nullable=True),
    sa.Column("data", sa.Text(), nullable=False),
    # Filtered replays read `WHERE <filter> AND id > :after ORDER BY id`.
    sa.Index(None, "run_id", "id"),
    sa.Index(None, "workflow", "id"),
    sa.Index(None, "type", "id"),
    # Ids are never reused, even after the newest events are deleted (SSE `Last-Event-ID`).
    sqlite_autoincrement=True,
)

kv = sa.Table(
    "kv",
    metadata,
    sa.Column("kind", sa.String(), primary_key=True),
    sa.Column("key", sa.String(), primary_key=True),
    sa.Column("value", sa.Text(), nullable=False),
    sa.Column("updated_at", sa.Float(), nullable=False),
)

# The built-in metric history (`basir.monitoring.history`): raw samples and rollups, pruned
# by age per resolution, so its size stays bounded.
metric_points = sa.Table(
    "metric_points",
    metadata,
    sa.Column("name", sa.String(), primary_key=True),
    sa.Column("resolution_s", sa.Integer(), primary_key=True),
    sa.Column("labels", sa.String(), primary_key=True),
    sa.Column("time", sa.Float(), primary_key=True),
    sa.Column("value", sa.Float(), nullable=False),
    # Queries read one name at one resolution over a time range, from this index alone
    # (it covers the columns they read, in the order they return); pruning deletes by age.
    sa.Index(None, "name", "resolution_s", "time", "labels", "value"),
    sa.Index(None, "resolution_s", "time"),
)

# Alerts (`basir.monitoring.alerts`): one row per finding, firing then resolved.
alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.String(), primary_key=True),
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
    # Listings: newest first, optionally by state; resolving looks up a workflow's firing ones.
    sa.Index(None, "state", "fired_at"),
    sa.Index(None, "fired_at"),
    sa.Index(None, "workflow", "state"),
)

schedules = sa.Table(
    "schedules",
    metadata,
    sa.Column("id", sa.String(), primary_key=True),
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
    sa.Index(None, "workflow", "position"),
    # A tick reads only the schedules that are due: `WHERE due_at <= :now`.
    sa.Index(None, "due_at"),
    # ... and the ones holding queued fires (`schedule_sql.HAS_QUEUED`, matched literally).
    sa.Index(
        "ix_schedules_queued",
        "id",
        sqlite_where=sa.text("queued != '[]'"),
        postgresql_where=sa.text("queued != '[]'"),
    ),
)

# The hash-chained audit log (`store.audit_records`): ids are consecutive from 1 and given by
# the store under its write lock, so they are not left to a sequence.
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", EventId, primary_key=True, autoincrement=False),
    sa.Column("time", sa.Float(), nullable=False),
    sa.Column("actor", sa.String(), nullable=True),
    sa.Column("action", sa.String(), nullable=False),
    sa.Column("target", sa.Text(), nullable=False),
    sa.Column("status", sa.Integer(), nullable=False),
    sa.Column("detail", sa.Text(), nullable=False),
    sa.Column("prev_hash", sa.String(), nullable=False),
    sa.Column("hash", sa.String(), nullable=False),
    # Listings by actor and by time, newest first.
    sa.Index(None, "actor", "id"),
    sa.Index(None, "time"),
)
