"""Monitoring fixtures: a real engine on a SQLite file, its API, and an admin client."""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller

from basir.api.app import create_app
from basir.config import Settings
from basir.engine.runtime import Engine
from basir.monitoring.metrics import Metrics
from basir.security import tokens
from basir.store.factory import open_store

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from monitoring_helpers import Mailbox, Served  # noqa: E402


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    """A started engine on a fresh SQLite file with its API."""
    settings = Settings(home=tmp_path / "home", shutdown_grace_s=0.0)
    store = open_store(f"sqlite:///{tmp_path / 'basir.db'}")
    await store.open()
    metrics = Metrics()
    engine = Engine(store, settings, workdir=tmp_path, metrics=metrics)
    await engine.start(resume=False)
    app = create_app(engine, settings, metrics=metrics)
    token = await tokens.ensure_admin(store)
    assert token is not None
    transport = httpx.ASGITransport(app=app)
    client = httpx.AsyncClient(
        transport=transport, base_url="http://test", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        yield Served(store, engine, metrics, app, client, token, settings.home)
    finally:
        await client.aclose()
        await engine.stop(grace_s=0)
        await store.close()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    """An SMTP server on a free port of 127.0.0.1 (aiosmtpd, its own thread)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    box = Mailbox(port)
    # aiosmtpd logs each connection at INFO from its own thread, possibly after the test's
    # output capture has closed ("Logging error"): only its warnings matter here.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
