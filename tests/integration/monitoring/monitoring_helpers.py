"""Helpers of the monitoring tests: an engine on SQLite with its API, served in-process."""

from __future__ import annotations

from dataclasses import dataclass
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
