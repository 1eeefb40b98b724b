"""The shipped SQLite catalogue: current, and never the reason for a wrong statement."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from basir.store import queries, sqlite_catalog_build, sqlite_sql
from basir.store.base import StoreError
from basir.store.sqlite_schema import create_schema, read_revision
from basir.store.tables import SCHEMA_REVISION


@pytest.fixture
def fresh_lookups() -> Iterator[None]:
    """Forget the cached catalogue and statements before and after the test."""
    sqlite_sql.catalog.cache_clear()
    sqlite_sql.statement.cache_clear()
    yield
    sqlite_sql.catalog.cache_clear()
    sqlite_sql.statement.cache_clear()


def test_catalogue_is_what_the_builders_compile_to() -> None:
    # On failure: python -m basir.store.sqlite_catalog_build
    assert sqlite_sql.CATALOG_PATH.read_text(encoding="utf-8") == sqlite_catalog_build.render()


def test_every_shape_comes_from_the_catalogue(fresh_lookups: None) -> None:
    data = sqlite_sql.catalog()
    assert data is not None and data["schema_revision"] == SCHEMA_REVISION
    for name, *args in sqlite_catalog_build.shapes():
        got = sqlite_sql.statement(name, *args)
        compiled = sqlite_sql.compile_builder(name, *args)
        assert (got.text, got.fixed) == (compiled.text, compiled.fixed)


def test_the_fingerprint_covers_every_source(fresh_lookups: None) -> None:
    data = sqlite_sql.catalog()
    assert data is not None
    assert {"queries.py", "tables.py", "codec.py"} <= set(data["sources"])
    base = sqlite_sql.fingerprint(["tables.py", "codec.py"])
    assert sqlite_sql.fingerprint(data["sources"]) not in ("", base)
    assert sqlite_sql.fingerprint(["no-such-file.py"]) == ""


def test_a_builder_of_another_module(fresh_lookups: None) -> None:
    got = sqlite_sql.statement("queries.select_run")
    assert got.text == queries.compile_sqlite(queries.select_run()).text


def test_a_missing_shape_is_compiled(fresh_lookups: None) -> None:
    key = sqlite_sql.statement_key("guard_check", "task", 40)
    assert key not in sqlite_sql.catalog()["statements"]  # type: ignore[index]
    got = sqlite_sql.statement("guard_check", "task", 40)
    assert got.text.endswith(":s39)")
    assert got.text == queries.compile_sqlite(queries.guard_check("task", 40)).text


def test_a_stale_catalogue_is_ignored(fresh_lookups: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_sql, "fingerprint", lambda _sources: "changed sources")
    assert sqlite_sql.catalog() is None
    assert sqlite_sql.schema_revision() is None and sqlite_sql.schema_ddl() is None
    got = sqlite_sql.statement("select_run")
    assert got.text == queries.compile_sqlite(queries.select_run()).text


def _schema(path: Path) -> list[tuple[str, ...]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    return sorted(rows)


def _open(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def test_the_schema_from_the_catalogue_is_the_one_sqlalchemy_creates(
    tmp_path: Path, fresh_lookups: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, slow = tmp_path / "fast.db", tmp_path / "slow.db"
    conn = _open(fast)
    create_schema(conn, fast)
    create_schema(conn, fast)  # at head: nothing to do
    assert read_revision(conn) == SCHEMA_REVISION
    conn.close()
    monkeypatch.setattr(sqlite_sql, "fingerprint", lambda _sources: "changed sources")
    sqlite_sql.catalog.cache_clear()
    conn = _open(slow)
    create_schema(conn, slow)
    assert read_revision(conn) == SCHEMA_REVISION
    conn.close()
    assert _schema(fast) == _schema(slow)


def test_tables_without_a_revision_are_refused(tmp_path: Path, fresh_lookups: None) -> None:
    path = tmp_path / "odd.db"
    conn = _open(path)
    conn.execute("CREATE TABLE runs (id TEXT)")
    with pytest.raises(StoreError, match="no schema revision"):
        create_schema(conn, path)
    assert not conn.in_transaction
    conn.close()


async def test_a_built_statement_still_reads(tmp_path: Path) -> None:
    """Code that passes a SQLAlchemy statement instead of a name keeps working (slower)."""
    from basir.store.sqlite import SqliteStore

    store = SqliteStore(f"sqlite:///{tmp_path / 'b.db'}")
    await store.open()
    try:
        by_name = await store._select(("last_event_id",), {}, lambda row: int(row[0]))
        built = await store._select(queries.last_event_id(), {}, lambda row: int(row[0]))
    finally:
        await store.close()
    assert by_name == built == [0]
