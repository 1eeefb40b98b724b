"""Dashboard fixtures: a started engine on a memory store, the app, and logged-in browsers.

A "browser" here is an in-process httpx client keeping cookies, logged in through the form
exactly as a person would (GET /login for the CSRF cookie, POST the form).
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from basir.api.app import create_app
from basir.config import Settings
from basir.coordinator.workflows import apply_workflow
from basir.engine.runtime import Engine
from basir.spec.validate import load_workflow
from basir.store.memory import MemoryStore
from roles import role_tokens_of

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from dashboard_helpers import Browser, csrf_of  # noqa: E402

DEMO = """
name: demo
description: {en: A demo, ar: عرض تجريبي}
params:
  count: {type: integer, default: 2, description: {en: how many, ar: كم}}
  loud: {type: boolean, default: false}
tasks:
  - id: hello
    uses: echo
    with: {message: "hi ${{ params.count }}"}
  - id: after
    needs: [hello]
    uses: noop
"""
SLOW = """
name: slow
tasks:
  - id: wait
    run: sleep 30
"""


@pytest.fixture
def settings(basir_home: Path) -> Settings:
    """Settings of the test's home."""
    return Settings(home=basir_home, shutdown_grace_s=0.0)


@pytest.fixture
async def store() -> AsyncIterator[MemoryStore]:
    """An opened in-memory store with the two workflows applied."""
    opened = MemoryStore()
    await opened.open()
    for text in (DEMO, SLOW):
        await apply_workflow(opened, load_workflow(text), "tests")
    yield opened
    await opened.close()


@pytest.fixture
async def engine(store: MemoryStore, settings: Settings, tmp_path: Path) -> AsyncIterator[Engine]:
    """A started engine whose tasks run under `tmp_path`."""
    started = Engine(store, settings, workdir=tmp_path)
    await started.start(resume=False)
    yield started
    await started.stop(grace_s=0)


@pytest.fixture
async def role_tokens(store: MemoryStore) -> dict[str, str]:
    """A token for each role: admin, operator, viewer."""
    return await role_tokens_of(store)


@pytest.fixture
def app(engine: Engine, settings: Settings) -> FastAPI:
    """The API app, with the dashboard mounted at `/`."""
    return create_app(engine, settings)


@pytest.fixture
async def browser(app: FastAPI, role_tokens: dict[str, str]) -> AsyncIterator[Browser]:
    """`await browser("viewer")`: a cookie-keeping client logged in as that role's user."""
    opened: list[httpx.AsyncClient] = []

    async def build(
        role: str | None = "admin", base_url: str = "http://test", **headers: str
    ) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app)
        client = httpx.AsyncClient(transport=transport, base_url=base_url, headers=headers)
        opened.append(client)
        if role is not None:
            page = await client.get("/login")
            form = {"csrf": csrf_of(page.text), "user": role, "token": role_tokens[role]}
            answer = await client.post("/login", data=form)
            assert answer.status_code == 303, answer.text
        return client

    yield build
    for client in opened:
        await client.aclose()
