"""A bearer token for each built-in role, on a fresh store (API and dashboard tests)."""

from __future__ import annotations

from basir.security import tokens
from basir.store.base import KeyValueStore


async def role_tokens_of(store: KeyValueStore) -> dict[str, str]:
    """Tokens for admin (the first start's), operator and viewer (a user each)."""
    admin = await tokens.ensure_admin(store)
    assert admin is not None
    found = {"admin": admin}
    for role in ("operator", "viewer"):
        await tokens.create_user(store, role, [role])
        found[role] = await tokens.issue_token(store, role)
    return found
