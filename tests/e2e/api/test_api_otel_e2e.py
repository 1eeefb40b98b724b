"""`basir server` with BASIR_OTEL_TRACES sends its runs over OTLP/HTTP to a local collector."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from api_e2e import apply_and_start, make_server, wait_status

WORKFLOW = """\
name: traced
tasks:
  - {id: build, run: echo built}
  - {id: test, needs: [build], run: echo tested}
"""


class Collector(BaseHTTPRequestHandler):
    """Records every OTLP request: path and body."""

    received: ClassVar[list[tuple[str, bytes]]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    received: list[tuple[str, bytes]] = []
    handler = type("Handler", (Collector,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


def test_runs_reach_the_collector_as_traces(
    tmp_path: Path, collector: tuple[str, list[tuple[str, bytes]]]
) -> None:
    endpoint, received = collector
    server = make_server(
        tmp_path,
        BASIR_OTEL_TRACES="true",
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_BSP_SCHEDULE_DELAY="100",
    ).start()
    with server.client() as client:
        run = apply_and_start(client, WORKFLOW)
        assert wait_status(client, run["run_id"], {"succeeded"})["status"] == "succeeded"
    assert server.terminate() == 0  # flushes what is buffered
    traces = b"".join(body for path, body in received if path == "/v1/traces")
    assert run["run_id"].encode() in traces
    for name in (b"run traced", b"build", b"test", b"basir-l3"):
        assert name in traces
    assert "Traceback" not in server.output()
