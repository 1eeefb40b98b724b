"""PostgreSQL drops the engine's connections mid-run: the engine carries on (issue 7 item 2).

Every server connection to the run's database is terminated (`pg_terminate_backend`, what a
restart or a failover does to clients) while a task runs; the store's next writes meet dead
connections, the engine waits that out, and the run ends as if nothing happened.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from basir.config import Settings
from basir.coordinator.workflows import apply_workflow
from basir.engine.runtime import Engine
from basir.spec.models import WorkflowSpec
from basir.store.base import Store
from basir.store.factory import open_store

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"


async def admin(sql: str) -> None:
    conn = await asyncpg.connect(f"{PG_SERVER}/postgres", timeout=3)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
async def pg_store() -> AsyncIterator[tuple[Store, str]]:
    name = f"basir_test_{uuid.uuid4().hex[:12]}"
    try:
        await admin(f'CREATE DATABASE "{name}"')
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_SERVER}: {exc} (make deps-machine)")
    store = open_store(f"{PG_SERVER}/{name}")
    await store.open()
    yield store, name
    await store.close()
    await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_lost_postgres_connections_are_waited_out(
    pg_store: tuple[Store, str], tmp_path: Path
) -> None:
    store, database = pg_store
    engine = Engine(store, Settings(home=tmp_path / "home"), workdir=tmp_path)
    await engine.start(resume=False)
    tasks: list[dict[str, object]] = [{"id": "t0", "uses": "noop"}]
    tasks += [{"id": f"t{i}", "needs": [f"t{i - 1}"], "uses": "noop"} for i in range(1, 300)]
    kill = (
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{database}' AND pid <> pg_backend_pid()"
    )
    try:
        version, _ = await apply_workflow(
            store, WorkflowSpec.model_validate({"name": "pg", "tasks": tasks})
        )
        run = await engine.submit(version)
        waiter = asyncio.ensure_future(engine.wait(run.id))
        for _round in range(20):  # connections die again and again while the chain runs
            if waiter.done():
                break
            await admin(kill)
            await asyncio.sleep(0.02)
        final = await asyncio.wait_for(waiter, timeout=60)
        health = engine.health()
    finally:
        await engine.stop(grace_s=0)
    assert final.status == "succeeded"
    assert health.pump_alive and health.fault is None
    assert health.store_retrying is None
    rows = await store.get_tasks(run.id)
    assert {row.status for row in rows} == {"succeeded"} and len(rows) == 300
