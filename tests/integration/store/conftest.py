"""Store fixtures: one store per test, in memory, on a SQLite file and on PostgreSQL.

PostgreSQL tests get a fresh database per test module (`basir_test_<random>`, dropped after)
and an empty `public` schema per test; they are skipped when no server answers.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from basir.store.base import Store
from basir.store.factory import open_store

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from store_pg import PG_ERRORS, PG_SERVER, pg_admin_sync, pg_url, reset_pg_schema  # noqa: E402

StoreFactory = Callable[[], Awaitable[Store]]


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    """The name of a fresh PostgreSQL database for this module; dropped afterwards."""
    name = f"basir_test_{uuid.uuid4().hex[:12]}"
    try:
        pg_admin_sync(f'CREATE DATABASE "{name}"')
    except PG_ERRORS as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_SERVER}: {exc} (make deps-machine)")
    yield name
    pg_admin_sync(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty store of each kind."""
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'basir.db'}"
    database = request.getfixturevalue("pg_database")
    await reset_pg_schema(database)
    return pg_url(database)


@pytest.fixture
async def make_store(store_url: str) -> AsyncIterator[StoreFactory]:
    """Open stores on `store_url` (one more per call); every one still open is closed after."""
    opened: list[Store] = []

    async def factory() -> Store:
        store = open_store(store_url)
        await store.open()
        opened.append(store)
        return store

    yield factory
    for store in opened:
        await store.close()


@pytest.fixture
async def store(make_store: StoreFactory) -> Store:
    """An open, empty store of each kind."""
    return await make_store()
