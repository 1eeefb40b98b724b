"""Helpers of the e2e API suite: a real `basir server` process, and HTTP shortcuts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

BASIR = str(Path(sys.executable).parent / "basir")
ADMIN_TOKEN = "e2e-admin-token-0123456789abcdef"
START_TIMEOUT_S = 60.0


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    """One `basir server` process (restartable on the same home and port)."""

    home: Path
    port: int
    env: dict[str, str]
    args: list[str] = field(default_factory=list)
    process: subprocess.Popen[str] | None = None
    token: str = ADMIN_TOKEN

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        """Start and wait until `/readyz` answers."""
        return self.launch().wait_ready()

    def launch(self) -> Server:
        """Start the process without waiting for it to serve."""
        log = (self.home / "server.out").open("a")
        self.process = subprocess.Popen(
            [BASIR, "server", "--port", str(self.port), *self.args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        return self

    def wait_ready(self) -> Server:
        """Wait until `/readyz` answers (an AssertionError if the process exits first)."""
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.output()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server did not become ready: {self.output()}")

    def output(self) -> str:
        """Everything the process printed so far."""
        path = self.home / "server.out"
        return path.read_text() if path.exists() else ""

    def terminate(self, timeout_s: float = 30) -> int:
        """SIGTERM and wait; returns the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout_s)

    def kill(self) -> None:
        """`kill -9` the server (its task processes are in their own groups and may linger)."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def client(self, token: str | None = None) -> httpx.Client:
        """An HTTP client with the admin token (or `token`)."""
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token or self.token}"},
            timeout=30,
        )

    def cli(self, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
        """Run `basir ARGS` against this server."""
        env = {**self.env, "BASIR_SERVER": self.url, "BASIR_TOKEN": self.token}
        return subprocess.run(
            [BASIR, *args], check=False, env=env, capture_output=True, text=True, timeout=timeout_s
        )


def make_server(tmp: Path, *args: str, admin_token: str | None = ADMIN_TOKEN, **env: str) -> Server:
    """A server (not started) with its own home under `tmp`."""
    home = tmp / "home"
    home.mkdir(parents=True, exist_ok=True)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BASIR_")}
    environment.update(BASIR_HOME=str(home), BASIR_SHUTDOWN_GRACE_S="2", **env)
    if admin_token is not None:
        environment["BASIR_ADMIN_TOKEN"] = admin_token
    return Server(home=home, port=free_port(), env=environment, args=list(args))


def wait_status(
    client: httpx.Client, run_id: str, statuses: set[str], timeout_s: float = 30
) -> dict[str, Any]:
    """Poll a run until its status is one of `statuses`."""
    deadline = time.monotonic() + timeout_s
    run: dict[str, Any] = {}
    while time.monotonic() < deadline:
        run = client.get(f"/api/v1/runs/{run_id}").json()
        if run.get("status") in statuses:
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} stayed {run.get('status')}: {run}")


def apply_and_start(client: httpx.Client, yaml_text: str, **body: Any) -> dict[str, Any]:
    """Apply a YAML workflow and start a run of it."""
    applied = client.post(
        "/api/v1/workflows", content=yaml_text, headers={"Content-Type": "application/yaml"}
    )
    assert applied.status_code in (200, 201), applied.text
    started = client.post(f"/api/v1/workflows/{applied.json()['name']}/runs", json=body)
    assert started.status_code == 201, started.text
    run: dict[str, Any] = started.json()
    return run
