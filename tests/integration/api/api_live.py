"""Helpers of the API integration tests: the live server handle, waiting, clients."""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass

import httpx

from basir.engine.runtime import Engine

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
