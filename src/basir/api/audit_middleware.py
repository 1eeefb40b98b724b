"""`AuditMiddleware`: records every mutating request in the audit log, in one place.

Pure ASGI.  A POST, PUT, PATCH or DELETE that matched a route (the API under `/api/v1` and the
dashboard's form posts alike) becomes one entry once its response has started: the actor the
authentication put in the scope (`AUDIT_PRINCIPAL`; none when it refused the caller with 401),
the method and route template, the path parameters and the HTTP status.  Refused attempts
(401, 403) are recorded like the others.  The entry is only queued here; `AuditRecorder`
writes it off the request path.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from basir.security.audit_recorder import AUDIT_PRINCIPAL, AuditRecorder
from basir.security.tokens import Principal
from basir.store.audit_records import AuditEntry

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Longest route template, path parameter and token name kept (a bounded entry).
MAX_FIELD = 512


def entry_of(scope: Scope, status: int, moment: float) -> AuditEntry | None:
    """The entry a finished request makes, or None when it is not recorded."""
    method = str(scope.get("method", ""))
    route = getattr(scope.get("route"), "path", None)
    if method not in MUTATING or not isinstance(route, str):
        return None
    principal = scope.get(AUDIT_PRINCIPAL)
    detail: dict[str, Any] = {}
    actor = None
    if isinstance(principal, Principal):
        actor = principal.user[:MAX_FIELD]
        if principal.token_name:
            detail["token"] = principal.token_name[:MAX_FIELD]
    params = scope.get("path_params") or {}
    target = {str(k)[:MAX_FIELD]: str(v)[:MAX_FIELD] for k, v in params.items()}
    action = f"{method} {route}"[:MAX_FIELD]
    return AuditEntry(
        time=moment, actor=actor, action=action, target=target, status=status, detail=detail
    )


class AuditMiddleware:
    """Queues an audit entry for each mutating request that matched a route."""

    def __init__(self, app: ASGIApp, recorder: AuditRecorder) -> None:
        self.app = app
        self.recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in MUTATING:
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            entry = entry_of(scope, status, time.time())
            if entry is not None:
                self.recorder.record(entry)
