"""Choosing a store by URL, and the package's public imports."""

from __future__ import annotations

from pathlib import Path

import pytest

import basir.store
from basir.store.base import StoreError
from basir.store.factory import open_store
from basir.store.memory import MemoryStore
from basir.store.postgres import PostgresStore, async_url
from basir.store.sqlite import SqliteStore, sqlite_path


def test_scheme_chooses_the_store(tmp_path: Path) -> None:
    assert isinstance(open_store("memory://"), MemoryStore)
    sqlite = open_store(f"sqlite:///{tmp_path / 'x.db'}")
    assert isinstance(sqlite, SqliteStore) and not (tmp_path / "x.db").exists()
    assert isinstance(open_store("postgresql://u@h/db"), PostgresStore)
    assert isinstance(open_store("postgresql+asyncpg://u@h/db"), PostgresStore)


@pytest.mark.parametrize("url", ["mysql://h/db", "sqlite://relative.db", "basir.db", ""])
def test_unknown_scheme_is_a_clear_error(url: str) -> None:
    with pytest.raises(StoreError, match=r"unknown store URL scheme .*sqlite:///"):
        open_store(url)


def test_sqlite_paths() -> None:
    assert sqlite_path("sqlite:///rel/basir.db") == Path("rel/basir.db")
    assert sqlite_path("sqlite:////abs/basir.db") == Path("/abs/basir.db")
    assert sqlite_path("sqlite:////abs/basir.db?mode=x") == Path("/abs/basir.db")
    for bad in ("sqlite:///", "sqlite:///:memory:"):
        with pytest.raises(ValueError, match="memory://"):
            sqlite_path(bad)
    with pytest.raises(ValueError, match="not a SQLite URL"):
        sqlite_path("postgresql://x")


def test_postgres_urls_use_asyncpg() -> None:
    assert async_url("postgresql://u@h:5432/db") == "postgresql+asyncpg://u@h:5432/db"
    assert async_url("postgres://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert async_url("postgresql+asyncpg://u@h/db") == "postgresql+asyncpg://u@h/db"
    with pytest.raises(ValueError):
        async_url("sqlite:///x")


def test_public_imports_are_pinned() -> None:
    assert set(basir.store.__all__) == {
        "Batch",
        "ConflictError",
        "EventRecord",
        "NotFoundError",
        "Page",
        "RunInsert",
        "RunRecord",
        "RunUpdate",
        "Store",
        "StoreError",
        "TaskInsert",
        "TaskRecord",
        "TaskUpdate",
        "WorkflowVersion",
        "open_store",
    }
    assert all(hasattr(basir.store, name) for name in basir.store.__all__)
