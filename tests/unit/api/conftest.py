"""API fixtures: a started engine on a memory store, the app, and clients for each role."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from basir.api.app import create_app
from basir.config import Settings
from basir.engine.runtime import Engine
from basir.monitoring.metrics import Metrics
from basir.store.memory import MemoryStore
from roles import role_tokens_of

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from api_helpers import MAX_BODY_BYTES, ClientFactory  # noqa: E402


@pytest.fixture
def settings(basir_home: Path) -> Settings:
    """Settings with a small body limit (so 413 is cheap to provoke)."""
    return Settings(home=basir_home, max_body_bytes=MAX_BODY_BYTES, shutdown_grace_s=0.0)


@pytest.fixture
async def store() -> AsyncIterator[MemoryStore]:
    """An opened in-memory store."""
    opened = MemoryStore()
    await opened.open()
    yield opened
    await opened.close()


@pytest.fixture
async def engine(store: MemoryStore, settings: Settings, tmp_path: Path) -> AsyncIterator[Engine]:
    """A started engine (reporting to its own `Metrics`) whose tasks run under `tmp_path`."""
    started = Engine(store, settings, workdir=tmp_path, metrics=Metrics())
    await started.start(resume=False)
    yield started
    await started.stop(grace_s=0)


@pytest.fixture
async def role_tokens(store: MemoryStore) -> dict[str, str]:
    """A bearer token for each role: admin (first start), operator and viewer."""
    return await role_tokens_of(store)


@pytest.fixture
def app(engine: Engine, settings: Settings) -> FastAPI:
    """The API of the engine."""
    return create_app(engine, settings)


@pytest.fixture
async def make_client(app: FastAPI, role_tokens: dict[str, str]) -> AsyncIterator[ClientFactory]:
    """Build in-process clients: `make_client("viewer")`, `make_client(None)` (no token)."""
    opened: list[httpx.AsyncClient] = []

    def build(role: str | None = "admin", **kwargs: Any) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {role_tokens[role]}"} if role else {}
        headers.update(kwargs.pop("headers", {}))
        transport = httpx.ASGITransport(app=app, **kwargs)
        client = httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers)
        opened.append(client)
        return client

    yield build
    for client in opened:
        await client.aclose()


@pytest.fixture
def client(make_client: ClientFactory) -> httpx.AsyncClient:
    """An admin client."""
    return make_client("admin")


@pytest.fixture
def apply(client: httpx.AsyncClient) -> Callable[[str], Awaitable[dict[str, Any]]]:
    """POST a YAML workflow and return the answer."""

    async def post(text: str) -> dict[str, Any]:
        response = await client.post(
            "/api/v1/workflows", content=text, headers={"Content-Type": "application/yaml"}
        )
        assert response.status_code in (200, 201), response.text
        body: dict[str, Any] = response.json()
        return body

    return post


@pytest.fixture
def start(
    client: httpx.AsyncClient, apply: Callable[[str], Awaitable[dict[str, Any]]]
) -> Callable[..., Awaitable[dict[str, Any]]]:
    """Apply a workflow (YAML) and start a run of it; returns the run."""

    async def run(text: str, **body: Any) -> dict[str, Any]:
        applied = await apply(text)
        response = await client.post(f"/api/v1/workflows/{applied['name']}/runs", json=body)
        assert response.status_code == 201, response.text
        started: dict[str, Any] = response.json()
        return started

    return run
