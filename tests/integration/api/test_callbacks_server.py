"""A real `basir server` calls a decision back, signed, and after `kill -9` still does, once.

The receiver is a real HTTP server on 127.0.0.1 (`http.server` in a thread).  It refuses the
first try (500); the server is killed while it waits to retry, then restarted: the report
arrives with the same delivery id, signed, and is acknowledged exactly once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

TOKEN = "callback-test-admin-token-0123456789"
SECRET = "callback-test-secret"
HELLO = "name: hello\ntasks:\n  - {id: greet, uses: echo, with: {message: hi}}\n"
BIN = Path(__file__).parents[3] / ".venv" / "bin"


class Receiver:
    """Records every POST; answers `status` (changeable), signals each arrival."""

    def __init__(self) -> None:
        self.status = 500
        self.requests: list[tuple[int, dict[str, str], bytes]] = []
        self.arrived = threading.Condition()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = owner.status
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with owner.arrived:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    owner.requests.append((status, headers, body))
                    owner.arrived.notify_all()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout_s: float = 30) -> None:
        """Until `count` requests have arrived (bounded)."""
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.requests) >= count, timeout_s)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.server.shutdown()
    made.server.server_close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start(home: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "BASIR_HOME": str(home),
        "BASIR_ADMIN_TOKEN": TOKEN,
        "BASIR_CALLBACK_SECRET": SECRET,
    }
    server = subprocess.Popen(
        [str(BIN / "basir"), "server", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.kill()
    raise AssertionError("the server did not start")


def test_callback_survives_kill_9_and_is_acknowledged_once(
    basir_home: Path, receiver: Receiver
) -> None:
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api/v1"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    server = _start(basir_home, port)
    try:
        applied = httpx.post(
            f"{api}/workflows",
            content=HELLO,
            headers={**auth, "Content-Type": "application/yaml"},
        )
        assert applied.status_code in (200, 201), applied.text
        decision = {"decision_id": "l2-7", "workflow": "hello", "callback_url": receiver.url}
        started = httpx.post(f"{api}/decisions", json=decision, headers=auth)
        assert started.status_code == 201, started.text
        receiver.wait_for(1)  # refused with 500: the server now waits before its next try
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        receiver.status = 200
        before = len(receiver.requests)
        server = _start(basir_home, port)
        receiver.wait_for(before + 1)
        deadline = time.monotonic() + 30
        shown: dict[str, Any] = {}
        while time.monotonic() < deadline:
            shown = httpx.get(f"{api}/decisions/l2-7", headers=auth).json()
            if shown["callback"]["state"] == "delivered":
                break
            time.sleep(0.1)
        events = httpx.get(
            f"{api}/events/history", params={"type": "decision.callback_delivered"}, headers=auth
        ).json()["items"]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    assert shown["callback"]["state"] == "delivered"
    assert [status for status, _, _ in receiver.requests].count(200) == 1
    assert len({headers["x-basir-delivery"] for _, headers, _ in receiver.requests}) == 1
    _, headers, body = receiver.requests[-1]
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["x-basir-signature"] == expected
    report = json.loads(body)
    assert report["decision_id"] == "l2-7"
    assert report["run_id"] == started.json()["run_id"]
    assert report["status"] == "succeeded"
    assert report["tasks"] == {"greet": {"status": "succeeded", "attempts": 1}}
    [event] = events
    assert event["data"]["attempts"] == shown["callback"]["attempts"] == len(receiver.requests)
