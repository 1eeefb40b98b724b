"""The CLI's `ApiClient`, SSE parsing and `follow_run`, against a scripted transport."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from basir.cli import client as client_module
from basir.cli.client import ApiClient, ApiError, follow_run, parse_sse
from basir.i18n import use_locale


def _sse(events: list[dict[str, Any]], start: int = 1) -> bytes:
    out = [": live\nretry: 1000\n\n"]
    for offset, event in enumerate(events):
        out.append(f"data: {json.dumps(event)}\nid: {start + offset}\n\n")
    return "".join(out).encode()


def test_parse_sse() -> None:
    lines = iter(
        [
            ": ping",
            "",
            'data: {"a": 1}',
            "id: 7",
            "event: x",
            "",
            "data: a",
            "data: b",
            "",
            "retry: 5",
            "",
        ]
    )
    messages = list(parse_sse(lines))
    assert [(m.data, m.id, m.event) for m in messages] == [
        ('{"a": 1}', "7", "x"),
        ("a\nb", None, None),
    ]


def test_follow_run_reconnects_with_last_event_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module.time, "sleep", lambda _s: None)
    seen_headers: list[str | None] = []
    calls = iter(
        [
            _sse([{"type": "run.started"}, {"type": "task.started"}], start=1),
            _sse([{"type": "task.succeeded"}, {"type": "run.succeeded"}], start=3),
        ]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        seen_headers.append(request.headers.get("last-event-id"))
        assert request.url.params["run"] == "r1"
        assert request.headers["authorization"] == "Bearer t"
        return httpx.Response(
            200, content=next(calls), headers={"content-type": "text/event-stream"}
        )

    api = ApiClient("http://server", "t", transport=httpx.MockTransport(handler))
    types = [event["type"] for event in follow_run(api, "r1")]
    assert types == ["run.started", "task.started", "task.succeeded", "run.succeeded"]
    assert seen_headers == ["0", "2"]


def test_follow_run_survives_a_dropped_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module.time, "sleep", lambda _s: None)
    attempts = iter(["drop", "ok"])

    def handler(request: httpx.Request) -> httpx.Response:
        if next(attempts) == "drop":
            raise httpx.ConnectError("refused")
        return httpx.Response(200, content=_sse([{"type": "run.failed"}]))

    api = ApiClient("http://server", "t", transport=httpx.MockTransport(handler))
    assert [e["type"] for e in follow_run(api, "r1")] == ["run.failed"]


def test_follow_run_gives_up_after_its_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module.time, "sleep", lambda _s: None)

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    api = ApiClient("http://server", "t", transport=httpx.MockTransport(handler))
    with pytest.raises(ApiError) as caught:
        list(follow_run(api, "r1", budget_s=0))
    assert caught.value.code == "client.unreachable"


def test_follow_run_stops_on_client_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        problem = {"code": "auth.unauthorized", "detail": "no", "errors": []}
        return httpx.Response(401, json=problem)

    api = ApiClient("http://server", "bad", transport=httpx.MockTransport(handler))
    with pytest.raises(ApiError) as caught:
        list(follow_run(api, "r1"))
    assert caught.value.status == 401


def test_requests_and_problems() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.url.path == "/api/v1/runs/ghost":
            return httpx.Response(
                404,
                json={"code": "run.not_found", "detail": "لا يوجد", "errors": [{"field": "x"}]},
                headers={"content-type": "application/problem+json"},
            )
        if request.url.path == "/api/v1/broken":
            return httpx.Response(502, text="bad gateway")
        return httpx.Response(200, json={"ok": request.url.path})

    with use_locale("ar"):
        api = ApiClient("http://server/", "tok", transport=httpx.MockTransport(handler))
    with api:
        assert api.get_run("r1") == {"ok": "/api/v1/runs/r1"}
        api.list_runs(status="failed")
        api.control("r1", "pause")
        api.start_run("hello", params={"a": 1}, priority="high", version=2)
        api.apply_workflow("name: x")
        with pytest.raises(ApiError) as caught:
            api.get_run("ghost")
        assert (caught.value.status, caught.value.code) == (404, "run.not_found")
        assert caught.value.errors == [{"field": "x"}]
        with pytest.raises(ApiError) as caught:
            api.request("GET", "/api/v1/broken")
        assert caught.value.code == "http.502"
    assert sent[0].headers["accept-language"] == "ar"
    assert sent[1].url.params["status"] == "failed" and "workflow" not in sent[1].url.params
    assert json.loads(sent[3].content) == {"params": {"a": 1}, "priority": "high", "version": 2}
    assert sent[4].headers["content-type"] == "application/yaml"


def test_unreachable_server() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    api = ApiClient("http://nowhere", None, transport=httpx.MockTransport(handler))
    with pytest.raises(ApiError) as caught:
        api.get_run("x")
    assert caught.value.status == 0
    assert "nowhere" in caught.value.detail


def test_stream_logs() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/ghost/logs"):
            return httpx.Response(404, json={"code": "task.not_found", "detail": "no"})
        assert request.url.params["tail"] == "5" and request.url.params["follow"] == "true"
        return httpx.Response(200, content=b"a\nb\n")

    api = ApiClient("http://server", "t", transport=httpx.MockTransport(handler))
    assert b"".join(api.stream_logs("r", "t", tail=5, follow=True)) == b"a\nb\n"
    with pytest.raises(ApiError):
        list(api.stream_logs("r", "ghost"))
