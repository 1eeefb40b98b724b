"""`basir server` logs: JSON lines off a terminal (with the worker id), console lines on request."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from api_e2e import BASIR, make_server


def json_lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_a_server_off_a_terminal_logs_json_lines(tmp_path: Path) -> None:
    server = make_server(tmp_path).start()
    assert server.terminate() == 0
    lines = json_lines(server.output())
    [unsigned] = [line for line in lines if "BASIR_CALLBACK_SECRET" in str(line["event"])]
    assert unsigned["level"] == "warning" and unsigned["logger"] == "basir.server"
    assert str(unsigned["worker_id"]).endswith(f":{server.process.pid}")  # type: ignore[union-attr]


def test_console_format_is_plain_lines_and_a_bad_format_is_refused(tmp_path: Path) -> None:
    server = make_server(tmp_path / "console", BASIR_LOG_FORMAT="console").start()
    assert server.terminate() == 0
    output = server.output()
    assert "BASIR_CALLBACK_SECRET" in output and not json_lines(output)
    refused = subprocess.run(
        [BASIR, "server"],
        env={**server.env, "BASIR_LOG_FORMAT": "xml"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2
    assert "log_format" in refused.stderr.lower() or "BASIR_LOG_FORMAT" in refused.stderr
