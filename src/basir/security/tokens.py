"""Users and bearer tokens, kept as small documents in the store's key-value space.

A token is shown once, when issued, and stored only as its SHA-256 hash (kind `token`, key =
the hex digest).  A user is a document of kind `user` keyed by name, with its roles.

Why SHA-256 and not argon2: argon2 exists to make *guessing* a low-entropy secret (a
password) expensive.  Our tokens are ≥ 32 random bytes (256 bits), so guessing is hopeless
whatever the hash; a slow hash would only make every request pay ~50 ms of CPU.  A single
SHA-256 keeps per-request authentication at microseconds, which the API needs to serve
≥ 800 requests/s on two cores, and it still means a leaked database reveals no usable token.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from basir.errors import BasirError
from basir.i18n import _
from basir.store.base import KeyValueStore

USER_KIND = "user"
TOKEN_KIND = "token"
TOKEN_BYTES = 32
MIN_ADMIN_TOKEN_CHARS = 20
MAX_TOKEN_CHARS = 512
ADMIN_USER = "admin"
ROLES = ("admin", "operator", "viewer")
SETTING_KIND = "setting"
ADMIN_TOKEN_SETTING = "admin_token"
ADMIN_TOKEN_NAME = "BASIR_ADMIN_TOKEN"
FIRST_START_NAME = "first-start"
_ADMIN_TOKEN_NAMES = frozenset({ADMIN_TOKEN_NAME, FIRST_START_NAME})
ADMIN_SCAN_LIMIT = 100_000
_URL_SAFE = re.compile(r"^[A-Za-z0-9_\-.~]+$")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a user name, its roles, and the token's name (for audit)."""

    user: str
    roles: frozenset[str] = field(default_factory=frozenset)
    token_name: str | None = None


def new_token() -> str:
    """A fresh random URL-safe token (32 random bytes, 43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """The hex SHA-256 digest under which a token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def looks_like_token(token: str) -> bool:
    """True when `token` is plausible: URL-safe characters, bounded length."""
    return 0 < len(token) <= MAX_TOKEN_CHARS and _URL_SAFE.match(token) is not None


def check_admin_token(token: str) -> None:
    """Reject a configured `BASIR_ADMIN_TOKEN` that is too short or not URL-safe."""
    if len(token) < MIN_ADMIN_TOKEN_CHARS or not looks_like_token(token):
        raise BasirError(
            "auth.weak_admin_token",
            _(
                "BASIR_ADMIN_TOKEN must be a URL-safe string of at least {count} characters",
                count=MIN_ADMIN_TOKEN_CHARS,
            ),
            details=[{"field": "admin_token", "message": _("too short or not URL-safe")}],
        )


async def create_user(store: KeyValueStore, name: str, roles: list[str]) -> bool:
    """Create a user unless one of this name exists; returns whether it was created."""
    unknown = [role for role in roles if role not in ROLES]
    if unknown:
        raise BasirError(
            "auth.unknown_role",
            _("unknown role: {role}; use admin, operator or viewer", role=unknown[0]),
        )
    document = {"name": name, "roles": roles, "created_at": time.time(), "disabled": False}
    return await store.kv_put(USER_KIND, name, document, only_if_absent=True)


async def issue_token(
    store: KeyValueStore, user: str, *, name: str = "default", token: str | None = None
) -> str:
    """Store the hash of a new (or given) token for `user` and return the token, once."""
    token = token or new_token()
    document: dict[str, Any] = {
        "user": user,
        "name": name,
        "created_at": time.time(),
        "revoked": False,
    }
    await store.kv_put(TOKEN_KIND, hash_token(token), document)
    return token


async def revoke_token(store: KeyValueStore, token_hash: str) -> bool:
    """Mark a stored token revoked; False when there is no such token."""
    document = await store.kv_get(TOKEN_KIND, token_hash)
    if document is None:
        return False
    await store.kv_put(TOKEN_KIND, token_hash, {**document, "revoked": True})
    return True


async def lookup(store: KeyValueStore, token: str) -> Principal | None:
    """The principal a token stands for, or None when unknown, revoked or its user is gone."""
    return await lookup_hash(store, hash_token(token))


async def lookup_hash(store: KeyValueStore, token_hash: str) -> Principal | None:
    """As `lookup`, from the token's stored hash (a dashboard session keeps only the hash)."""
    document = await store.kv_get(TOKEN_KIND, token_hash)
    if document is None or document.get("revoked"):
        return None
    expires_at = document.get("expires_at")
    if isinstance(expires_at, int | float) and expires_at <= time.time():
        return None
    user = await store.kv_get(USER_KIND, str(document.get("user")))
    if user is None or user.get("disabled"):
        return None
    roles = frozenset(str(role) for role in user.get("roles", ()))
    return Principal(user=str(user["name"]), roles=roles, token_name=document.get("name"))


async def ensure_admin(store: KeyValueStore, admin_token: str | None = None) -> str | None:
    """Make sure user `admin` exists; return a token to print when one was just created.

    With `admin_token` (BASIR_ADMIN_TOKEN) that token is registered verbatim on every start
    (idempotent) and nothing is returned: the operator already knows it.  It is then *the*
    admin token: a different one configured before, or the one-time token of a first start,
    is revoked, so rotating BASIR_ADMIN_TOKEN and restarting locks the old token out.
    Without it, the first start on a store with no admin creates one with a fresh one-time
    token.
    """
    if admin_token is not None:
        check_admin_token(admin_token)
        await create_user(store, ADMIN_USER, ["admin"])
        digest = hash_token(admin_token)
        await _revoke_previous_admin_tokens(store, digest)
        existing = await store.kv_get(TOKEN_KIND, digest)
        if existing is None or existing.get("revoked"):
            await issue_token(store, ADMIN_USER, name=ADMIN_TOKEN_NAME, token=admin_token)
        await store.kv_put(SETTING_KIND, ADMIN_TOKEN_SETTING, {"hash": digest})
        return None
    if not await create_user(store, ADMIN_USER, ["admin"]):
        return None
    return await issue_token(store, ADMIN_USER, name=FIRST_START_NAME)


async def _revoke_previous_admin_tokens(store: KeyValueStore, keep: str) -> None:
    """Revoke the configured or first-start admin tokens other than the hash `keep`.

    The hash of the configured token is remembered, so a rotation revokes it directly; the
    scan covers stores from before that record existed and first-start tokens.
    """
    remembered = await store.kv_get(SETTING_KIND, ADMIN_TOKEN_SETTING)
    if remembered is not None and remembered.get("hash") == keep:
        return  # the same token as last start: nothing to rotate
    stale: set[str] = set()
    if remembered is not None and isinstance(remembered.get("hash"), str):
        stale.add(remembered["hash"])
    for digest, document in await store.kv_list(TOKEN_KIND, limit=ADMIN_SCAN_LIMIT):
        if document.get("user") == ADMIN_USER and document.get("name") in _ADMIN_TOKEN_NAMES:
            stale.add(digest)
    for digest in sorted(stale - {keep}):
        await revoke_token(store, digest)
