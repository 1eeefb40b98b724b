"""`basir runs …` and `follow_run` against a real HTTP server (uvicorn in a thread)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from api_live import LiveServer, http, wait_for  # noqa: E402

from basir.cli.client import ApiClient, follow_run  # noqa: E402
from basir.cli.runs_cmd import runs_app  # noqa: E402
from basir.i18n import use_locale  # noqa: E402

SLOW = "name: slow\ntasks:\n  - {id: nap, uses: sleep, with: {seconds: 30}}\n"
TALK = "name: talk\ntasks:\n  - {id: say, run: 'echo hello; sleep 0.5; echo bye'}\n"
FAIL = "name: failing\ntasks:\n  - {id: boom, uses: fail}\n"


@pytest.fixture
def cli(live_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A runner whose environment points `basir runs` at the live server."""
    monkeypatch.setenv("BASIR_SERVER", live_server.url)
    monkeypatch.setenv("BASIR_TOKEN", live_server.token)
    return CliRunner()


def _start(live: LiveServer, yaml_text: str) -> str:
    with ApiClient(live.url, live.token) as api:
        name = api.apply_workflow(yaml_text)["name"]
        run_id: str = api.start_run(name)["run_id"]
    return run_id


def _status(live: LiveServer, run_id: str) -> str:
    with ApiClient(live.url, live.token) as api:
        status: str = api.get_run(run_id)["status"]
    return status


def test_list_and_show(cli: CliRunner, live_server: LiveServer) -> None:
    run_id = _start(live_server, TALK)
    wait_for(lambda: _status(live_server, run_id) == "succeeded")
    listed = cli.invoke(runs_app, ["list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.output)["items"][0]["run_id"] == run_id
    table = cli.invoke(runs_app, ["list"])
    assert run_id in table.output
    shown = cli.invoke(runs_app, ["show", run_id, "--json"])
    assert json.loads(shown.output)["tasks"]["say"]["status"] == "succeeded"
    pretty = cli.invoke(runs_app, ["show", run_id])
    assert "say" in pretty.output and "succeeded" in pretty.output


def test_show_says_why_a_task_failed_in_the_cli_language(
    cli: CliRunner, live_server: LiveServer
) -> None:
    run_id = _start(live_server, FAIL)
    wait_for(lambda: _status(live_server, run_id) == "failed")
    english = cli.invoke(runs_app, ["show", run_id])
    assert "boom: failed on purpose" in english.output
    with use_locale("ar"):  # the CLI's `--lang ar`: its requests ask for Arabic
        arabic = cli.invoke(runs_app, ["show", run_id])
    assert "boom: فشلت عمدًا" in arabic.output and "on purpose" not in arabic.output


def test_controls(cli: CliRunner, live_server: LiveServer) -> None:
    run_id = _start(live_server, SLOW)
    assert cli.invoke(runs_app, ["pause", run_id]).exit_code == 0
    assert _status(live_server, run_id) == "paused"
    resumed = cli.invoke(runs_app, ["resume", run_id, "--json"])
    assert json.loads(resumed.output)["status"] == "running"
    cancelled = cli.invoke(runs_app, ["cancel", run_id])
    assert cancelled.exit_code == 0
    wait_for(lambda: _status(live_server, run_id) == "cancelled")
    again = cli.invoke(runs_app, ["pause", run_id])
    assert again.exit_code == 2
    retried = cli.invoke(runs_app, ["retry", run_id])
    assert retried.exit_code == 0, retried.output
    cli.invoke(runs_app, ["cancel", run_id])


def test_errors_exit_codes(cli: CliRunner, live_server: LiveServer) -> None:
    missing = cli.invoke(runs_app, ["show", "ghost"])
    assert missing.exit_code == 2
    assert "ghost" in missing.output
    bad_token = cli.invoke(runs_app, ["list", "--token", "wrong-token-xxxxxxxxxxxxxxxx"])
    assert bad_token.exit_code == 2
    unreachable = cli.invoke(runs_app, ["list", "--server", "http://127.0.0.1:9"])
    assert unreachable.exit_code == 1


def test_logs_tail_and_follow(cli: CliRunner, live_server: LiveServer) -> None:
    run_id = _start(live_server, TALK)
    followed = cli.invoke(runs_app, ["logs", run_id, "say", "--follow"])
    assert followed.exit_code == 0
    assert "hello" in followed.output and "bye" in followed.output
    tail = cli.invoke(runs_app, ["logs", run_id, "say", "--tail", "1"])
    assert tail.output == "bye\n"


def test_a_task_log_streams_as_server_sent_events_and_resumes(live_server: LiveServer) -> None:
    run_id = _start(live_server, TALK)
    url = f"/api/v1/runs/{run_id}/tasks/say/logs/stream"
    with http(live_server) as client, client.stream("GET", url, timeout=30) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = _sse_events("".join(response.iter_text()))
    assert [kind for _, kind, _ in events] == ["log", "log", "end"]
    lines = "\n".join(data for _, kind, data in events if kind == "log").split("\n")
    assert lines[0].startswith("--- attempt 1 (") and lines[1:] == ["hello", "bye"]
    end_id, _, end_data = events[-1]
    assert json.loads(end_data) == {"status": "succeeded", "offset": int(end_id)}
    # Reconnecting after the first event resumes at its byte: only the rest comes again.
    with http(live_server) as client:
        again = _sse_events(client.get(url, headers={"Last-Event-ID": events[0][0]}).text)
        assert [(kind, data) for _, kind, data in again] == [
            ("log", "bye"),
            ("end", end_data),
        ]
        assert client.get(url, headers={"Last-Event-ID": "-1"}).status_code == 422
        assert client.get(f"/api/v1/runs/{run_id}/tasks/ghost/logs/stream").status_code == 404


def _sse_events(body: str) -> list[tuple[str, str, str]]:
    """(id, event, data) of each event of a text/event-stream body."""
    found = []
    for block in filter(None, body.split("\n\n")):
        fields: dict[str, list[str]] = {}
        for line in block.split("\n"):
            name, _, value = line.partition(": ")
            fields.setdefault(name, []).append(value)
        found.append((fields["id"][0], fields["event"][0], "\n".join(fields["data"])))
    return found


def test_follow_run_until_the_end(live_server: LiveServer) -> None:
    run_id = _start(live_server, FAIL)
    with ApiClient(live_server.url, live_server.token) as api:
        events = list(follow_run(api, run_id))
    types = [event["type"] for event in events]
    assert types[0] == "run.queued"
    assert types[-1] == "run.failed"
    assert "task.failed" in types
    assert all(event["data"]["run_id"] == run_id for event in events)


def test_sse_over_real_http_resumes_after_reconnect(live_server: LiveServer) -> None:
    run_id = _start(live_server, TALK)
    wait_for(lambda: _status(live_server, run_id) == "succeeded")
    with ApiClient(live_server.url, live_server.token) as api:
        first: list[str] = []
        for message in api.stream_events(params={"run": run_id, "since": "0"}):
            first.append(message.id or "")
            if len(first) == 3:
                break
        rest = []
        for message in api.stream_events(params={"run": run_id}, last_event_id=first[-1]):
            rest.append(json.loads(message.data))
            if rest[-1]["type"] == "run.succeeded":
                break
    with http(live_server) as client:
        history = client.get("/api/v1/events/history", params={"run": run_id}).json()["items"]
    assert first + [event["id"] for event in rest] == [event["id"] for event in history]
