"""schemathesis against `/openapi.json` of an in-process app: no 5xx, no schema violation.

The app runs on schemathesis's own event loop (its ASGI client starts the lifespan there), so
the engine and store are started by a small lifespan wrapper rather than by fixtures.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import hypothesis
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.types import ASGIApp, Receive, Scope, Send

from basir.api.app import create_app
from basir.config import Settings
from basir.coordinator.workflows import apply_workflow
from basir.engine.runtime import Engine
from basir.monitoring.metrics import Metrics
from basir.security.tokens import ensure_admin
from basir.spec.validate import load_workflow
from basir.store.memory import MemoryStore

TOKEN = "schemathesis-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
SEED_YAML = """\
name: hello
params: {who: {type: string, default: world}}
tasks:
  - {id: greet, uses: echo, with: {message: "hi ${{ params.who }}"}}
  - {id: nap, needs: [greet], uses: sleep, with: {seconds: 600}}
"""
SEEDED: dict[str, str] = {}


class EngineLifespan:
    """Starts the store and engine on the loop that serves the app, seeds one run."""

    def __init__(self, app: ASGIApp, engine: Engine) -> None:
        self.app = app
        self.engine = engine
        self.started = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        # schemathesis runs the lifespan around every call, on one loop; a stopped engine
        # cannot start again (its executors are closed), so it is started once and kept
        # running, as a server's is: `/readyz` reports a stopped engine as 503.
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if not self.started:
                    self.started = True
                    await self._startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _startup(self) -> None:
        store = self.engine.store
        await store.open()
        await ensure_admin(store, TOKEN)
        version, _created = await apply_workflow(store, load_workflow(SEED_YAML), "seed")
        await self.engine.start(resume=False)
        run = await self.engine.submit(version, params={})
        SEEDED["run_id"] = run.id
        await asyncio.sleep(0.1)


def _build() -> ASGIApp:
    home = Path(tempfile.mkdtemp(prefix="basir-schemathesis-"))
    settings = Settings(home=home, shutdown_grace_s=0.0, max_body_bytes=256 * 1024)
    engine = Engine(MemoryStore(), settings, workdir=home, metrics=Metrics())
    return EngineLifespan(create_app(engine, settings), engine)


APP = _build()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
# The live SSE stream never ends on its own; it has its own tests.
schema = schema.exclude(path="/api/v1/events", method="GET")


@schema.parametrize()
@hypothesis.settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    derandomize=True,
)
def test_api_conforms_to_its_schema(case: schemathesis.Case) -> None:
    case.call_and_validate(headers=AUTH, checks=CHECKS)


def _fresh_run() -> str:
    """A run of `hello` started now, its first task done and its `nap` running: the run seeded
    at start-up may have ended meanwhile (its nap lasts 10 minutes; a loaded CI worker can
    reach this test later than that)."""
    started = schema["/api/v1/workflows/{name}/runs"]["POST"].Case(
        path_parameters={"name": "hello"}, body={"params": {}}
    )
    run_id = str(started.call(headers=AUTH).json()["run_id"])
    shown = schema["/api/v1/runs/{run_id}"]["GET"].Case(path_parameters={"run_id": run_id})
    deadline = time.monotonic() + 30
    while shown.call(headers=AUTH).json()["tasks"]["nap"]["status"] != "running":
        assert time.monotonic() < deadline, "the fresh run's nap never started"
        time.sleep(0.05)
    return run_id


def test_real_objects_conform() -> None:
    """Successful answers about objects that exist (random ids rarely hit one)."""
    run_id = _fresh_run()
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("/api/v1/workflows", "GET", {}),
        ("/api/v1/workflows/{name}", "GET", {"path_parameters": {"name": "hello"}}),
        ("/api/v1/workflows/{name}/versions", "GET", {"path_parameters": {"name": "hello"}}),
        (
            "/api/v1/workflows/{name}/versions/{version}",
            "GET",
            {"path_parameters": {"name": "hello", "version": 1}},
        ),
        ("/api/v1/runs", "GET", {"query": {"limit": 5}}),
        ("/api/v1/runs/{run_id}", "GET", {"path_parameters": {"run_id": run_id}}),
        (
            "/api/v1/runs/{run_id}/tasks/{task_id}/logs",
            "GET",
            {"path_parameters": {"run_id": run_id, "task_id": "greet"}},
        ),
        (
            "/api/v1/runs/{run_id}/tasks/{task_id}/logs/stream",
            "GET",
            {"path_parameters": {"run_id": run_id, "task_id": "greet"}},
        ),
        (
            "/api/v1/runs/{run_id}/tasks/{task_id}/pause",
            "POST",
            {"path_parameters": {"run_id": run_id, "task_id": "nap"}, "body": {}},
        ),
        (
            "/api/v1/runs/{run_id}/tasks/{task_id}/resume",
            "POST",
            {"path_parameters": {"run_id": run_id, "task_id": "nap"}},
        ),
        ("/api/v1/events/history", "GET", {"query": {"limit": 3}}),
        (
            "/api/v1/workflows/{name}/runs",
            "POST",
            {"path_parameters": {"name": "hello"}, "body": {"params": {"who": "x"}}},
        ),
        ("/api/v1/runs/{run_id}/pause", "POST", {"path_parameters": {"run_id": run_id}}),
        ("/api/v1/runs/{run_id}/resume", "POST", {"path_parameters": {"run_id": run_id}}),
        (
            "/api/v1/decisions",
            "POST",
            {"body": {"decision_id": "d-1", "workflow": "hello", "params": {}}},
        ),
        ("/api/v1/decisions/{decision_id}", "GET", {"path_parameters": {"decision_id": "d-1"}}),
        ("/api/v1/runs/{run_id}/cancel", "POST", {"path_parameters": {"run_id": run_id}}),
        ("/healthz", "GET", {}),
        ("/readyz", "GET", {}),
        ("/metrics", "GET", {}),
    ]
    for path, method, parts in cases:
        case = schema[path][method].Case(**parts)
        response = case.call_and_validate(headers=AUTH, checks=CHECKS)
        assert response.status_code < 300, (path, response.status_code, response.text)
