"""`open_store(url)`: the store a URL names, chosen by its scheme."""

from __future__ import annotations

from basir.store.base import Store, StoreError


def open_store(url: str) -> Store:
    """The store for `url`: `memory://`, `sqlite:///path/to/file.db` or `postgresql://…`.

    Nothing is connected yet (importing or building a store has no side effect): the caller
    runs `await store.open()` before use and `await store.close()` after.  An unknown scheme
    raises `StoreError` naming the ones that work.
    """
    if url.startswith("memory://"):
        from basir.store.memory import MemoryStore

        return MemoryStore(url)
    if url.startswith("sqlite:///"):
        from basir.store.sqlite import SqliteStore

        return SqliteStore(url)
    if url.startswith(("postgresql://", "postgresql+asyncpg://", "postgres://")):
        from basir.store.postgres import PostgresStore

        return PostgresStore(url)
    scheme = url.split("://", 1)[0] if "://" in url else url
    raise StoreError(
        f"unknown store URL scheme {scheme!r}: use memory://, sqlite:///path/to/basir.db "
        "or postgresql://user@host/dbname"
    )
