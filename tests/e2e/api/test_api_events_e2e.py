"""The SSE stream over real HTTP: live delivery, and replay after a reconnect."""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from api_e2e import Server, apply_and_start, wait_status  # noqa: E402

from basir.cli.client import ApiClient, follow_run  # noqa: E402

STEPS = """\
name: steps
tasks:
  - {id: a, uses: sleep, with: {seconds: 0.3}}
  - {id: b, needs: [a], uses: sleep, with: {seconds: 0.3}}
  - {id: c, needs: [b], uses: sleep, with: {seconds: 0.3}}
"""


def test_reconnect_with_last_event_id_misses_nothing(server: Server) -> None:
    with server.client() as client, ApiClient(server.url, server.token) as api:
        run = apply_and_start(client, STEPS)
        run_id = run["run_id"]
        first: list[dict[str, object]] = []
        last_id = None
        for message in api.stream_events(params={"run": run_id, "since": "0"}):
            first.append(json.loads(message.data))
            last_id = message.id
            if len(first) == 4:
                break  # the connection drops mid-run
        assert last_id is not None
        rest: list[dict[str, object]] = []
        for message in api.stream_events(params={"run": run_id}, last_event_id=last_id):
            rest.append(json.loads(message.data))
            if rest[-1]["type"] == "run.succeeded":
                break
        history = client.get("/api/v1/events/history", params={"run": run_id}).json()["items"]
    seen = [event["id"] for event in first + rest]
    assert seen == [event["id"] for event in history]
    assert len(set(seen)) == len(seen)


def test_follow_run_of_a_live_run(server: Server) -> None:
    with server.client() as client, ApiClient(server.url, server.token) as api:
        run = apply_and_start(client, STEPS)
        types = [event["type"] for event in follow_run(api, run["run_id"])]
        assert types[-1] == "run.succeeded"
        assert types.count("task.succeeded") == 3
        wait_status(client, run["run_id"], {"succeeded"})
