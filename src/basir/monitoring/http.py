"""`HttpMetricsMiddleware`: times every HTTP request by its route template, never its raw path.

Pure ASGI (no `BaseHTTPMiddleware`).  Starlette's router writes the matched route into the
request scope, so after the app answers the template (`/api/v1/runs/{run_id}`) is known; a
request that matched no route is counted under `unmatched`, keeping the label set bounded.
Event streams are timed too, as long as they stay open.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from basir.monitoring.metrics import Metrics

UNMATCHED_ROUTE = "unmatched"


class HttpMetricsMiddleware:
    """Observes `basir_http_request_duration_seconds` for each HTTP request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or UNMATCHED_ROUTE
            self.metrics.observe_http(
                scope.get("method", "GET"), route, status, time.perf_counter() - started
            )
