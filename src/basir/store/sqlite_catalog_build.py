"""Write `sqlite_catalog.json`: the SQLite texts of `store.queries`, compiled by SQLAlchemy.

    python -m basir.store.sqlite_catalog_build          # rewrite the catalogue
    python -m basir.store.sqlite_catalog_build --check  # exit 1 when it is out of date

Run it after changing `queries.py`, `tables.py` or `codec.py` (until then the store ignores
the catalogue and compiles with SQLAlchemy: slower, still right).  The shapes listed here are
the ones the SQLite store asks for; a shape missing from the list is compiled on first use.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from itertools import product
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from basir.store import queries, schema
from basir.store.sqlite_sql import (
    BASE_SOURCES,
    CATALOG_PATH,
    builder_module,
    compile_builder,
    fingerprint,
    statement_key,
)
from basir.store.tables import SCHEMA_REVISION, metadata

# Numbers of allowed statuses / event types a guard or a filter is compiled for up front.
MAX_LISTED = 8
_COUNTS: tuple[int | None, ...] = (None, *range(1, MAX_LISTED + 1))
_BOOLS = (False, True)


def shapes() -> Iterator[tuple[Any, ...]]:
    """Every `(builder name, *args)` the SQLite store uses, up to `MAX_LISTED` statuses.

    A builder of another module of `basir.store` is named `"module.builder"`; its module
    then joins the catalogue's sources.
    """
    for name in ("insert_run", "next_task_seq", "insert_workflow", "last_event_id"):
        yield (name,)
    for name in ("select_run", "select_tasks", "active_runs", "latest_workflow"):
        yield (name,)
    for name in ("workflow_version", "latest_workflows", "workflow_versions"):
        yield (name,)
    yield ("kv_get",)
    yield ("kv_list",)
    yield ("kv_delete",)
    for only_if_absent in _BOOLS:
        yield ("kv_put", "sqlite", only_if_absent)
    for kind in ("run", "task"):
        yield ("current_status", kind)
        for n_from in _COUNTS:
            yield ("guard_check", kind, n_from)
    for flags in product(_BOOLS, _BOOLS, _BOOLS):
        yield ("list_runs", *flags)
    for has_run, has_workflow, n_types in product(_BOOLS, _BOOLS, _COUNTS):
        yield ("list_events", has_run, has_workflow, n_types)
    for has_workflow in _BOOLS:
        yield ("export_events", has_workflow)
    yield from _schedule_shapes()
    yield from _monitoring_shapes()


def _monitoring_shapes() -> Iterator[tuple[Any, ...]]:
    """The metric history's and the alerts' statements (`metric_queries`, `alert_queries`).

    `select_tasks_of` (reports, one shape per page size) is compiled when first used.
    """
    yield ("metric_queries.upsert_point", "sqlite")
    for name in ("select_points", "select_names", "delete_older"):
        yield (f"metric_queries.{name}",)
    yield ("alert_queries.upsert_alert", "sqlite")
    yield ("alert_queries.select_alert",)
    yield ("report_queries.report_runs",)
    yield ("report_queries.report_tasks",)
    for name in ("count_runs", "failed_tasks", "failed_runs"):
        yield (f"report_queries.{name}",)
    for name in ("run_values", "task_values"):
        yield (f"report_queries.{name}",)
    for has_state, has_workflow in product(_BOOLS, _BOOLS):
        yield ("alert_queries.list_alerts", has_state, has_workflow)
    yield ("audit_queries.insert_entry",)
    yield ("audit_queries.last_entry",)
    for direction, *flags in product((None, "after", "before"), _BOOLS, _BOOLS, _BOOLS):
        yield ("audit_queries.list_entries", direction, *flags)


def _schedule_shapes() -> Iterator[tuple[Any, ...]]:
    """The schedules' statements (`store.schedule_sql`), but their guarded updates' shapes."""
    for name in ("select_one", "select_due", "next_due", "ids_of_workflow", "delete_one"):
        yield (f"schedule_sql.{name}",)
    for name in ("insert", "current_revision", "select_queued", "select_run_statuses"):
        yield (f"schedule_sql.{name}",)
    for has_workflow in _BOOLS:
        yield ("schedule_sql.select_all", has_workflow)
    yield ("schedule_sql.upsert", "sqlite")


def ddl() -> list[str]:
    """The statements `create_all` runs on an empty SQLite database, in order."""
    emitted: list[str] = []
    dialect = sqlite.dialect()

    def record(sql: Any, *_args: Any, **_kwargs: Any) -> None:
        emitted.append(str(sql.compile(dialect=dialect)).strip())

    mock = sa.create_mock_engine("sqlite://", record)
    metadata.create_all(mock, checkfirst=False)
    schema.alembic_version.metadata.create_all(mock, checkfirst=False)
    # A table's indexes come out in set order, which changes between processes: sort them.
    ordered: list[str] = []
    for text in emitted:
        if text.startswith("CREATE INDEX") and ordered and ordered[-1].startswith("CREATE INDEX"):
            at = len(ordered)
            while at > 0 and ordered[at - 1].startswith("CREATE INDEX") and ordered[at - 1] > text:
                at -= 1
            ordered.insert(at, text)
        else:
            ordered.append(text)
    return ordered


def build() -> dict[str, Any]:
    """The catalogue, as the JSON document `store.sqlite_sql` reads."""
    statements = {}
    sources = set(BASE_SOURCES)
    for name, *args in shapes():
        compiled = compile_builder(name, *args)
        statements[statement_key(name, *args)] = {"text": compiled.text, "fixed": compiled.fixed}
        sources.add(f"{builder_module(name)}.py")
    stamp = sa.insert(schema.alembic_version).values(version_num=sa.bindparam("version_num"))
    return {
        "sources": sorted(sources),
        "fingerprint": fingerprint(sorted(sources)),
        "schema_revision": SCHEMA_REVISION,
        "ddl": ddl(),
        "stamp": queries.compile_sqlite(stamp).text,
        "statements": statements,
    }


def render() -> str:
    """The catalogue file's text (stable: sorted keys, one entry a line)."""
    return json.dumps(build(), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    """Rewrite the catalogue, or with `--check` report whether it is current."""
    text = render()
    if "--check" in argv:
        current = CATALOG_PATH.read_text(encoding="utf-8") if CATALOG_PATH.exists() else ""
        if current != text:
            sys.stderr.write(f"{CATALOG_PATH} is out of date: run {__spec__.name}\n")
            return 1
        return 0
    CATALOG_PATH.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
