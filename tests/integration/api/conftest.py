"""A real HTTP server (uvicorn, in a thread with its own loop) around a started engine."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from basir.api.app import context_of, create_app
from basir.config import Settings
from basir.engine.runtime import Engine
from basir.monitoring.metrics import Metrics
from basir.security.tokens import ensure_admin
from basir.store.factory import open_store

TOKEN = "integration-admin-token-0123456789"


@dataclass
class LiveServer:
    """Where the server listens and how to reach its engine's loop."""

    url: str
    token: str
    loop: asyncio.AbstractEventLoop
    engine: Engine

    def call(self, coroutine: object, timeout_s: float = 30) -> object:
        """Run a coroutine on the server's loop and return its result."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)  # type: ignore[arg-type]
        return future.result(timeout_s)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    """`basir server`'s pieces on a SQLite file, serving HTTP on a free port."""
    port = free_port()
    settings = Settings(
        home=tmp_path / "home", db=f"sqlite:///{tmp_path / 'basir.db'}", shutdown_grace_s=0.0
    )
    ready = threading.Event()
    holder: dict[str, object] = {}

    async def main() -> None:
        store = open_store(settings.db_url)
        await store.open()
        await ensure_admin(store, TOKEN)
        engine = Engine(store, settings, workdir=tmp_path, metrics=Metrics())
        await engine.start()
        app = create_app(engine, settings)
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                lifespan="on", timeout_graceful_shutdown=1)
        server = uvicorn.Server(config)
        holder.update(loop=asyncio.get_running_loop(), engine=engine, server=server, app=app)
        serving = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        ready.set()
        await serving
        await engine.stop(0)
        await store.close()

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    assert ready.wait(20), "server did not start"
    live = LiveServer(f"http://127.0.0.1:{port}", TOKEN, holder["loop"], holder["engine"])  # type: ignore[arg-type]
    yield live
    server: uvicorn.Server = holder["server"]  # type: ignore[assignment]
    loop: asyncio.AbstractEventLoop = holder["loop"]  # type: ignore[assignment]
    loop.call_soon_threadsafe(context_of(holder["app"]).shutdown.set)  # type: ignore[arg-type]
    server.should_exit = True
    thread.join(20)


def wait_for(predicate: object, timeout_s: float = 20) -> None:
    """Poll `predicate()` until it is true."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def http(live: LiveServer) -> httpx.Client:
    """A plain httpx client with the admin token."""
    return httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {live.token}"})
