"""A real HTTP server (uvicorn, in a thread with its own loop) around a started engine."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from api_live import TOKEN, LiveServer, free_port  # noqa: E402

from basir.api.app import context_of, create_app  # noqa: E402
from basir.config import Settings  # noqa: E402
from basir.engine.runtime import Engine  # noqa: E402
from basir.monitoring.metrics import Metrics  # noqa: E402
from basir.security.tokens import ensure_admin  # noqa: E402
from basir.store.factory import open_store  # noqa: E402


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
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=1,
        )
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
