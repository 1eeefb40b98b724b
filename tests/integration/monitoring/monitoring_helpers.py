"""Helpers of the monitoring tests: an engine on SQLite with its API, served in-process."""

from __future__ import annotations

import asyncio
import email
import email.policy
import queue
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from basir.engine.runtime import Engine
from basir.monitoring.metrics import Metrics
from basir.store.base import Store


@dataclass
class Served:
    """One engine on SQLite, its metrics, its app and an admin client."""

    store: Store
    engine: Engine
    metrics: Metrics
    app: FastAPI
    client: httpx.AsyncClient
    token: str
    store_home: Path

    async def run(self, yaml_text: str, **body: Any) -> dict[str, Any]:
        """Apply a workflow, run it, wait for its end and return the final run."""
        applied = await self.client.post(
            "/api/v1/workflows", content=yaml_text, headers={"Content-Type": "application/yaml"}
        )
        assert applied.status_code in (200, 201), applied.text
        name = applied.json()["name"]
        started = await self.client.post(f"/api/v1/workflows/{name}/runs", json=body)
        assert started.status_code == 201, started.text
        await self.engine.wait(started.json()["run_id"])
        final = await self.client.get(f"/api/v1/runs/{started.json()['run_id']}")
        result: dict[str, Any] = final.json()
        return result


@dataclass
class Mailbox:
    """What the local SMTP server received: one parsed message per delivery."""

    port: int
    got: queue.Queue[EmailMessage] = field(default_factory=queue.Queue)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.got.put(message)
        return "250 OK"

    async def next(self) -> EmailMessage:
        """The next message (waiting up to 15 s for it)."""
        for _ in range(1500):
            try:
                return self.got.get_nowait()
            except queue.Empty:
                await asyncio.sleep(0.01)
        raise AssertionError("no email arrived")

    def url(self) -> str:
        return (
            f"mailto://127.0.0.1:{self.port}?smtp=127.0.0.1&mode=insecure"
            "&from=basir@example.com&to=ops@example.com"
        )
