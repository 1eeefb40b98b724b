"""`HotReads`: the two most polled reads answered from their caches before routing.

`GET /api/v1/runs` (scripts, dashboards) and the runs page `GET /runs` (open browsers) are
what a busy server is asked most, and with their pages cached most of their cost is the
framework around them: routing through a few hundred routes, dependency solving, validation.
This pure ASGI middleware answers them itself when everything it needs is already known:

- the API list: the bearer token grants `read` (the authenticator's cache answers), the raw
  query string was validated by the route before (`KnownQueries`), and the page for its key
  is cached and fresh, or being loaded (`ListCache.ready`: the request joins that load);
- the runs page: the session cookie opens a live session (`SessionCache`) that grants
  `read`, and the page's fragment for (what the principal may see, language, part,
  filters) is cached or being loaded.

Anything else (an unknown token or query, a miss, a stale entry, no session) goes through
the app unchanged, which answers as always and fills the caches.  The answers are the same
bytes and headers the routes send (a session's rendered page is kept while its fragment and
session stay the same); `scope["route"]` is set so metrics name the route.

Writes go first: while a request that may write (any method but GET and HEAD) is in flight,
at most `READS_PER_TURN` hot reads are answered per turn of the event loop and the rest wait
for the next turns.  A write is a few hand-offs between the loop and the store's threads, each
waiting for one turn; fifty readers answered in every turn make each turn, and so each
hand-off, tens of milliseconds long.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from basir.api.deps import ApiContext, raw_json
from basir.dashboard import pages_runs
from basir.dashboard.context import DashboardContext
from basir.dashboard.sessions import SESSION_COOKIE, Session
from basir.dashboard.web import page_language
from basir.errors import BasirError
from basir.i18n import negotiate
from basir.security.audit_recorder import mark_caller
from basir.security.auth import Permission, permissions_of

API_RUNS = "/api/v1/runs"
RUNS_PAGE = "/runs"
MAX_ANSWERS = 1000
READS_PER_TURN = 8
SAFE_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True, slots=True)
class RouteName:
    """What `HttpMetricsMiddleware` reads from `scope["route"]`: the route's template."""

    path: str


class HotReads:
    """Answers `GET /api/v1/runs` and `GET /runs` from their caches when it can."""

    def __init__(self, app: ASGIApp, api: ApiContext, dashboard: DashboardContext) -> None:
        self.app = app
        self.api = api
        self.dashboard = dashboard
        # Rendered runs pages by (session, page key): the fragment and session they were
        # made from, and the response (its bytes and headers are sent as they are).
        self._answers: dict[tuple[str, Hashable], tuple[Any, Session, Response]] = {}
        self.writes = 0  # requests in flight that may write
        self._turn_reads = 0  # hot reads let through in this turn of the loop
        self._turn_reset = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if scope["method"] not in SAFE_METHODS:
                self.writes += 1
                try:
                    await self.app(scope, receive, send)
                finally:
                    self.writes -= 1
                return
            path = scope["path"]
            if path in (API_RUNS, RUNS_PAGE):
                await self._wait_turn()
            if path == API_RUNS and await self._api_runs(scope, receive, send):
                return
            if path == RUNS_PAGE and await self._runs_page(scope, receive, send):
                return
        await self.app(scope, receive, send)

    async def _wait_turn(self) -> None:
        """Return at once, unless writes are in flight and this turn's reads are spent: then
        in a later turn that has room."""
        while self.writes and self._turn_reads >= READS_PER_TURN:
            await asyncio.sleep(0)
        self._turn_reads += 1
        if not self._turn_reset:
            self._turn_reset = True
            asyncio.get_running_loop().call_soon(self._new_turn)

    def _new_turn(self) -> None:
        self._turn_reads = 0
        self._turn_reset = False

    async def _api_runs(self, scope: Scope, receive: Receive, send: Send) -> bool:
        key = self.api.runs_keys.key_of(scope.get("query_string", b""))
        if key is None:
            return False
        authorization = accept = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"accept-language":
                accept = value.decode("latin-1")
        try:
            principal = await self.api.auth.authenticate(authorization)
        except BasirError:
            return False  # the app answers 401 in the request's language
        if Permission.READ not in permissions_of(principal):
            return False
        body = await self.api.runs_cache.ready((key, negotiate(accept)))  # as `list_runs`
        if body is None:
            return False
        mark_caller(scope, principal)
        scope["route"] = RouteName(API_RUNS)
        await raw_json(body)(scope, receive, send)
        return True

    async def _runs_page(self, scope: Scope, receive: Receive, send: Send) -> bool:
        cache = self.dashboard.pages_cache
        if cache is None:
            return False
        request = Request(scope, receive)
        visit = await self.dashboard.sessions.visit(
            self.dashboard.store, request.cookies.get(SESSION_COOKIE)
        )
        session = visit.session
        if session is None or Permission.READ not in permissions_of(session.principal):
            return False
        page_language(request, visit.language)
        query = request.query_params
        filters = pages_runs.run_filters(query)
        part = pages_runs.runs_part(query)
        key = pages_runs.runs_key(session, filters, part)
        value = await cache.ready(key)
        if value is None:
            return False
        mark_caller(scope, session.principal)
        scope["route"] = RouteName(RUNS_PAGE)
        # The whole answer depends on the session and the fragment only: kept per session
        # until either changes (a new fragment after an event, a new session object after
        # a change to its documents).
        memo_key = (session.key, key)
        memo = self._answers.get(memo_key)
        if memo is not None and memo[0] is value and memo[1] == session:
            response = memo[2]
        else:
            response = pages_runs.runs_answer(request, session, value, part)
            if len(self._answers) >= MAX_ANSWERS:
                self._answers.clear()
            self._answers[memo_key] = (value, session, response)
        await response(scope, receive, send)
        return True
