"""Dashboard sessions: a random id in an HttpOnly cookie, the session document in the store.

A session remembers which token logged in (its SHA-256 only, as the token store does), so
revoking the token, disabling the user or changing its roles takes effect on the next page.
Each session carries its own CSRF token, which every form posts back.

`SessionCache` keeps each page request off the store (a session, its token, its user and
the user's language are four reads): an entry holds until any session, token, user or
language document is written in this process (`KvChanges`), for at most
`SESSION_CACHE_TTL_S` (which bounds what another process writes to a shared store, as the
API's token cache does), and never past the session's own expiry.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

from basir.security import tokens
from basir.security.tokens import Principal, hash_token
from basir.store.base import KeyValueStore

SESSION_KIND = "dashboard_session"
PREFS_KIND = "dashboard_prefs"
SESSION_TTL_S = 12 * 3600
SESSION_COOKIE = "basir_session"
LANG_COOKIE = "basir_lang"
LOGIN_CSRF_COOKIE = "basir_login_csrf"
SESSION_ID_BYTES = 32
SESSION_CACHE_TTL_S = 2.0
SESSION_CACHE_MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class Session:
    """A logged-in browser: who, with which permissions, and its CSRF token."""

    key: str
    principal: Principal
    csrf: str
    expires_at: float = float("inf")


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def same(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two secrets (False when either is missing)."""
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


async def principal_of_token_hash(store: KeyValueStore, token_hash: str) -> Principal | None:
    """The principal a stored token hash stands for, as `tokens.lookup` decides for a token."""
    return await tokens.lookup_hash(store, token_hash)


async def open_session(store: KeyValueStore, principal: Principal, token: str) -> str:
    """Store a new session for a verified login; returns the id for the cookie."""
    session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
    document = {
        "user": principal.user,
        "token_hash": hash_token(token),
        "csrf": secrets.token_urlsafe(SESSION_ID_BYTES),
        "expires_at": time.time() + SESSION_TTL_S,
        "closed": False,
    }
    await store.kv_put(SESSION_KIND, _key(session_id), document)
    return session_id


async def load_session(store: KeyValueStore, session_id: str | None) -> Session | None:
    """The live session of a cookie value, or None (unknown, closed, expired, token revoked)."""
    if not session_id or len(session_id) > 128:
        return None
    key = _key(session_id)
    document = await store.kv_get(SESSION_KIND, key)
    if document is None or document.get("closed"):
        return None
    if float(document.get("expires_at", 0)) <= time.time():
        return None
    principal = await principal_of_token_hash(store, str(document.get("token_hash")))
    if principal is None or principal.user != document.get("user"):
        return None
    return Session(
        key=key,
        principal=principal,
        csrf=str(document["csrf"]),
        expires_at=float(document["expires_at"]),
    )


async def close_session(store: KeyValueStore, session: Session) -> None:
    """Log out: the session id no longer opens anything."""
    document = await store.kv_get(SESSION_KIND, session.key)
    if document is not None:
        await store.kv_put(SESSION_KIND, session.key, {**document, "closed": True})


async def preferred_language(store: KeyValueStore, user: str) -> str | None:
    """The language a user chose last time, if any."""
    document = await store.kv_get(PREFS_KIND, user)
    lang = document.get("lang") if document else None
    return str(lang) if lang else None


async def remember_language(store: KeyValueStore, user: str, lang: str) -> None:
    """Remember a user's language across browsers."""
    document = await store.kv_get(PREFS_KIND, user) or {}
    await store.kv_put(PREFS_KIND, user, {**document, "lang": lang})


# The documents a session's answer depends on (the session, its token, its user, the
# user's language): a write of any of them empties `SessionCache`.
SESSION_DOCUMENTS = (SESSION_KIND, PREFS_KIND, tokens.TOKEN_KIND, tokens.USER_KIND)


@dataclass(frozen=True, slots=True)
class Visit:
    """What a request's cookie opens: the session, and the user's saved language."""

    session: Session | None
    language: str | None = None


class SessionCache:
    """Live sessions by cookie, as `load_session` and `preferred_language` would read them.

    Only live sessions are kept (a flood of unknown cookies cannot evict them); with a store
    that does not count its writes (`kv_changes`), nothing is kept.
    """

    def __init__(
        self, ttl_s: float = SESSION_CACHE_TTL_S, max_entries: int = SESSION_CACHE_MAX_ENTRIES
    ) -> None:
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._entries: dict[str, tuple[Visit, float, int]] = {}
        self._loading: dict[str, tuple[asyncio.Future[Visit], int]] = {}

    async def visit(self, store: KeyValueStore, session_id: str | None) -> Visit:
        """The session a cookie value opens (None when it opens nothing) and its language."""
        if not session_id or len(session_id) > 128:
            return Visit(None)
        changes: Any = getattr(store, "kv_changes", None)
        if changes is None or self._ttl_s <= 0:
            return await _visit(store, session_id)
        version = changes.version(SESSION_DOCUMENTS)
        key = _key(session_id)
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None:
            visit, fresh_until, seen = entry
            live = visit.session is not None and visit.session.expires_at > time.time()
            if fresh_until > now and seen == version and live:
                return visit
            del self._entries[key]
        # Concurrent requests of one browser share one read (asked after the same change).
        pending = self._loading.get(key)
        if pending is None or pending[1] != version:
            pending = (asyncio.ensure_future(_visit(store, session_id)), version)
            self._loading[key] = pending
            pending[0].add_done_callback(lambda done: self._done(key, done))
        visit = await asyncio.shield(pending[0])
        # Kept only if nothing it depends on was written while it was read.
        if visit.session is not None and changes.version(SESSION_DOCUMENTS) == version:
            if len(self._entries) >= self._max_entries:
                self._entries.clear()
            self._entries[key] = (visit, now + self._ttl_s, version)
        return visit

    def _done(self, key: str, future: asyncio.Future[Visit]) -> None:
        if self._loading.get(key, (None, 0))[0] is future:
            del self._loading[key]
        if not future.cancelled():
            future.exception()  # retrieved: an error is raised to the waiters, not logged


async def _visit(store: KeyValueStore, session_id: str) -> Visit:
    session = await load_session(store, session_id)
    if session is None:
        return Visit(None)
    return Visit(session, await preferred_language(store, session.principal.user))
