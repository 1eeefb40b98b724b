"""Dashboard sessions: a random id in an HttpOnly cookie, the session document in the store.

A session remembers which token logged in (its SHA-256 only, as the token store does), so
revoking the token, disabling the user or changing its roles takes effect on the next page.
Each session carries its own CSRF token, which every form posts back.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class Session:
    """A logged-in browser: who, with which permissions, and its CSRF token."""

    key: str
    principal: Principal
    csrf: str


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
    return Session(key=key, principal=principal, csrf=str(document["csrf"]))


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
