"""Bearer-token authentication with a short in-memory cache, and minimal role-based permissions.

Roles map to permissions (a later issue brings namespaces and custom roles):
`viewer` reads; `operator` also applies workflows, starts and controls runs, sends decisions;
`admin` may do everything, including managing users and tokens.
"""

from __future__ import annotations

import time
from enum import StrEnum

from basir.errors import BasirError
from basir.i18n import _
from basir.security import tokens
from basir.security.tokens import Principal
from basir.store.base import KeyValueStore

AUTH_CACHE_TTL_S = 10.0
AUTH_CACHE_MAX_ENTRIES = 10_000


class Permission(StrEnum):
    """What a route needs."""

    READ = "read"
    OPERATE = "operate"
    ADMIN = "admin"


ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "viewer": frozenset({Permission.READ}),
    "operator": frozenset({Permission.READ, Permission.OPERATE}),
    "admin": frozenset(Permission),
}


def permissions_of(principal: Principal) -> frozenset[Permission]:
    """The union of the permissions of a principal's roles."""
    granted: frozenset[Permission] = frozenset()
    for role in principal.roles:
        granted |= ROLE_PERMISSIONS.get(role, frozenset())
    return granted


def unauthorized(message: str | None = None) -> BasirError:
    """401: no token, or one that is not (or no longer) valid."""
    return BasirError(
        "auth.unauthorized",
        message or _("a valid bearer token is required: send 'Authorization: Bearer TOKEN'"),
        kind="unauthorized",
    )


def forbidden(permission: Permission) -> BasirError:
    """403: a valid token whose roles lack the permission."""
    return BasirError(
        "auth.forbidden",
        _("your token does not grant the '{permission}' permission", permission=str(permission)),
        kind="forbidden",
    )


def require(principal: Principal, permission: Permission) -> None:
    """Raise 403 unless the principal holds `permission`."""
    if permission not in permissions_of(principal):
        raise forbidden(permission)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer TOKEN` header, or None."""
    if not authorization:
        return None
    scheme, _sep, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    value = value.strip()
    return value or None


class Authenticator:
    """Verifies bearer tokens against the store, caching verified hashes for a short TTL.

    The cache keeps repeated requests of the same client off the store (the hot path is one
    SHA-256 and one dict lookup); the TTL bounds how long a revoked token keeps working.
    Unknown tokens are not cached, so a flood of bad tokens cannot evict good ones.
    """

    def __init__(self, store: KeyValueStore, ttl_s: float = AUTH_CACHE_TTL_S) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._cache: dict[str, tuple[Principal, float]] = {}

    async def authenticate(self, authorization: str | None) -> Principal:
        """The principal of an `Authorization` header value; raises 401 when there is none."""
        token = bearer_token(authorization)
        if token is None or not tokens.looks_like_token(token):
            raise unauthorized()
        digest = tokens.hash_token(token)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached[1] > now:
            return cached[0]
        principal = await tokens.lookup(self._store, token)
        if principal is None:
            self._cache.pop(digest, None)
            raise unauthorized(_("this token is unknown, revoked or expired"))
        if len(self._cache) >= AUTH_CACHE_MAX_ENTRIES:
            self._cache.clear()
        self._cache[digest] = (principal, now + self._ttl_s)
        return principal

    def forget(self, token_hash: str | None = None) -> None:
        """Drop one cached token (after a revoke), or all of them."""
        if token_hash is None:
            self._cache.clear()
        else:
            self._cache.pop(token_hash, None)
