"""Alert rules from a rules file on a real `basir server`: a failure fires, an email goes out."""

from __future__ import annotations

import email
import email.policy
import logging
import queue
import socket
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from api_e2e import Server, wait_status

RULES = """\
rules:
  - name: breaks
    event: run.failed
    group_by: [workflow]
    op: ">="
    threshold: 1
    window: 1h
    severity: critical
    message:
      en: "{workflow} failed"
      ar: "فشل {workflow}"
"""
FAILING = """\
name: always-fails
tasks:
  - id: work
    run: "exit 4"
"""


class Mailbox:
    """An SMTP server's handler keeping each message."""

    def __init__(self) -> None:
        self.got: queue.Queue[EmailMessage] = queue.Queue()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.got.put(message)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Mailbox]]:
    """aiosmtpd on a free port of 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    box = Mailbox()
    # aiosmtpd logs each connection at INFO from its own thread, possibly after the test's
    # output capture has closed ("Logging error"): only its warnings matter here.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, box
    finally:
        controller.stop()


def until(found: Callable[[], Any], timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_a_file_rule_fires_on_a_real_server_and_its_email_arrives(
    server_factory: Callable[..., Server], smtp: tuple[int, Mailbox], tmp_path: Path
) -> None:
    port, box = smtp
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    server = server_factory(
        BASIR_ALERT_RULES_FILE=str(rules), BASIR_ALERT_EVAL_INTERVAL_S="0.5"
    ).start()
    with server.client() as client:
        listed = client.get("/api/v1/alerts/rules").json()["items"]
        assert [(r["name"], r["source"]) for r in listed] == [("breaks", "file")]
        url = (
            f"mailto://127.0.0.1:{port}?smtp=127.0.0.1&mode=insecure"
            "&from=basir@example.com&to=ops@example.com"
        )
        route = {
            "name": "mail",
            "kind": "apprise",
            "url": url,
            "lang": "ar",
            "matchers": {"severity": "critical"},
        }
        assert client.post("/api/v1/notifications/routes", json=route).status_code == 201
        applied = client.post(
            "/api/v1/workflows", content=FAILING, headers={"Content-Type": "application/yaml"}
        )
        assert applied.status_code == 201, applied.text
        run = client.post("/api/v1/workflows/always-fails/runs", json={}).json()
        wait_status(client, run["run_id"], {"failed"})

        def firing() -> list[dict[str, Any]]:
            items = client.get("/api/v1/alerts", params={"state": "firing"}).json()["items"]
            return [a for a in items if a["rule"] == "breaks"]

        (alert,) = until(firing)
        assert (alert["severity"], alert["workflow"]) == ("critical", "always-fails")
        mail = box.got.get(timeout=30)
        assert mail["Subject"] == "[بصير: تنبيه نشط] حرج breaks"  # the route is Arabic
        body = mail.get_body(preferencelist=("plain", "html"))
        assert body is not None and "فشل always-fails" in str(body.get_content())
    assert server.terminate() == 0
