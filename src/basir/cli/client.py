"""`ApiClient`: a small synchronous client of the REST API for the CLI (`--server URL`).

Errors come back as `ApiError` carrying the server's problem+json (already localised: the
client sends the CLI's locale as `Accept-Language`).  `follow_run` streams a run's events
over SSE, reconnecting with `Last-Event-ID` if the connection drops, until the run ends.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from basir.i18n import _, current_locale

DEFAULT_TIMEOUT_S = 30.0
RUN_END_EVENTS = frozenset({"run.succeeded", "run.failed", "run.cancelled"})
RECONNECT_DELAY_S = 0.5
MAX_RECONNECT_DELAY_S = 5.0
RECONNECT_BUDGET_S = 120.0


class ApiError(Exception):
    """A problem+json answer (or a transport failure, with status 0)."""

    def __init__(self, status: int, code: str, detail: str, errors: list[dict[str, Any]]):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = errors


@dataclass(slots=True)
class SseMessage:
    """One Server-Sent Event as received."""

    data: str
    id: str | None = None
    event: str | None = None


def parse_sse(lines: Iterator[str]) -> Iterator[SseMessage]:
    """Assemble SSE lines into messages (comments and retry hints are skipped)."""
    data: list[str] = []
    event_id: str | None = None
    event: str | None = None
    for raw in lines:
        line = raw.rstrip("\r\n")
        if line == "":
            if data:
                yield SseMessage("\n".join(data), event_id, event)
            data, event_id, event = [], None, None
            continue
        if line.startswith(":"):
            continue
        name, _sep, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name == "id":
            event_id = value
        elif name == "event":
            event = value


def _error_of(response: httpx.Response) -> ApiError:
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    if not isinstance(problem, dict):
        problem = {}
    return ApiError(
        response.status_code,
        str(problem.get("code") or f"http.{response.status_code}"),
        str(problem.get("detail") or response.reason_phrase or response.status_code),
        list(problem.get("errors") or []),
    )


class ApiClient:
    """Talks to one Basir server with one bearer token."""

    def __init__(
        self,
        server: str,
        token: str | None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Accept-Language": current_locale(), "User-Agent": "basir-cli"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.server = server.rstrip("/")
        self._http = httpx.Client(
            base_url=self.server, headers=headers, timeout=timeout_s, transport=transport
        )

    def close(self) -> None:
        """Release the connection pool."""
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        content: bytes | str | None = None,
        content_type: str | None = None,
    ) -> Any:
        """Send one request; the decoded JSON answer, or `ApiError`."""
        headers = {"Content-Type": content_type} if content_type else None
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(
                method, path, json=json_body, params=clean, content=content, headers=headers
            )
        except httpx.HTTPError as error:
            raise ApiError(
                0,
                "client.unreachable",
                _("cannot reach {server}: {error}", server=self.server, error=str(error)),
                [],
            ) from error
        if response.status_code >= 400:
            raise _error_of(response)
        if not response.content:
            return None
        return response.json()

    # ------------------------------------------------------------------ resources

    def apply_workflow(self, text: str, *, json_spec: bool = False) -> dict[str, Any]:
        """POST a spec (YAML text, or JSON text with `json_spec`) → {name, version, created}."""
        content_type = "application/json" if json_spec else "application/yaml"
        result: dict[str, Any] = self.request(
            "POST", "/api/v1/workflows", content=text.encode("utf-8"), content_type=content_type
        )
        return result

    def start_run(
        self,
        workflow: str,
        *,
        params: dict[str, Any] | None = None,
        priority: int | str | None = None,
        deadline: str | float | None = None,
        version: int | None = None,
    ) -> dict[str, Any]:
        """Start a run; returns the run (DESIGN §6 shape)."""
        body: dict[str, Any] = {"params": params or {}}
        for key, value in (("priority", priority), ("deadline", deadline), ("version", version)):
            if value is not None:
                body[key] = value
        result: dict[str, Any] = self.request(
            "POST", f"/api/v1/workflows/{workflow}/runs", json_body=body
        )
        return result

    def get_run(self, run_id: str) -> dict[str, Any]:
        """One run with its tasks."""
        result: dict[str, Any] = self.request("GET", f"/api/v1/runs/{run_id}")
        return result

    def list_runs(
        self,
        *,
        status: str | None = None,
        workflow: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """A page of runs: {items, next}."""
        params = {"status": status, "workflow": workflow, "limit": limit, "cursor": cursor}
        result: dict[str, Any] = self.request("GET", "/api/v1/runs", params=params)
        return result

    def control(self, run_id: str, action: str) -> dict[str, Any]:
        """pause | resume | cancel | retry a run; returns the run."""
        result: dict[str, Any] = self.request("POST", f"/api/v1/runs/{run_id}/{action}")
        return result

    def stream_logs(
        self, run_id: str, task_id: str, *, tail: int | None = None, follow: bool = False
    ) -> Iterator[bytes]:
        """A task's log in chunks; with `follow`, until the task ends."""
        params: dict[str, Any] = {"follow": "true" if follow else None, "tail": tail}
        clean = {k: v for k, v in params.items() if v is not None}
        url = f"/api/v1/runs/{run_id}/tasks/{task_id}/logs"
        with self._http.stream("GET", url, params=clean, timeout=_stream_timeout()) as response:
            if response.status_code >= 400:
                response.read()
                raise _error_of(response)
            yield from response.iter_bytes()

    def stream_events(
        self, *, params: dict[str, Any] | None = None, last_event_id: str | None = None
    ) -> Iterator[SseMessage]:
        """The SSE event stream (runs until the server closes it)."""
        headers = {"Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        with self._http.stream(
            "GET", "/api/v1/events", params=clean, headers=headers, timeout=_stream_timeout()
        ) as response:
            if response.status_code >= 400:
                response.read()
                raise _error_of(response)
            yield from parse_sse(response.iter_lines())


def _stream_timeout() -> httpx.Timeout:
    # No read timeout: the server sends a keep-alive comment while idle.
    return httpx.Timeout(DEFAULT_TIMEOUT_S, read=None)


def follow_run(
    client: ApiClient, run_id: str, *, since: str = "0", budget_s: float = RECONNECT_BUDGET_S
) -> Iterator[dict[str, Any]]:
    """Yield a run's events (CloudEvents dicts), from `since` on, until the run ends.

    A dropped connection (a server restart, say) is retried with `Last-Event-ID`, so no
    event is missed or repeated; after `budget_s` seconds without reconnecting it gives up
    with `ApiError`.
    """
    last = since
    delay = RECONNECT_DELAY_S
    failing_since: float | None = None
    while True:
        try:
            for message in client.stream_events(params={"run": run_id}, last_event_id=last):
                failing_since, delay = None, RECONNECT_DELAY_S
                event: dict[str, Any] = json.loads(message.data)
                last = message.id or last
                yield event
                if event.get("type") in RUN_END_EVENTS:
                    return
        except (httpx.HTTPError, ApiError) as error:
            if isinstance(error, ApiError) and 400 <= error.status < 500:
                raise
            now = time.monotonic()
            failing_since = failing_since or now
            if now - failing_since > budget_s:
                if isinstance(error, ApiError):
                    raise
                raise ApiError(0, "client.unreachable", str(error), []) from error
        time.sleep(delay)
        delay = min(delay * 2, MAX_RECONNECT_DELAY_S)
