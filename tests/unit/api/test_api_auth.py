"""Bearer tokens: 401 without or with a bad token, 403 without the permission, caching."""

from __future__ import annotations

import httpx
import pytest
from api_helpers import ClientFactory, assert_problem

from basir.errors import BasirError
from basir.security import tokens
from basir.security.auth import Authenticator, Permission, bearer_token, permissions_of
from basir.security.tokens import Principal
from basir.store.memory import MemoryStore


async def test_missing_token_is_401_with_challenge(make_client: ClientFactory) -> None:
    response = await make_client(None).get("/api/v1/runs")
    assert_problem(response, 401, "auth.unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header", ["Bearer nope-not-a-token-at-all-xxxxxxxxxx", "Basic abc", "Bearer", "Bearer a b"]
)
async def test_bad_tokens_are_401(make_client: ClientFactory, header: str) -> None:
    response = await make_client(None, headers={"Authorization": header}).get("/api/v1/runs")
    assert_problem(response, 401, "auth.unauthorized")


async def test_viewer_cannot_operate(make_client: ClientFactory) -> None:
    viewer = make_client("viewer")
    assert (await viewer.get("/api/v1/runs")).status_code == 200
    problem = assert_problem(await viewer.post("/api/v1/runs/x/cancel"), 403, "auth.forbidden")
    assert "operate" in problem["detail"]


async def test_root_probes_need_no_token(make_client: ClientFactory) -> None:
    anonymous = make_client(None)
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        assert (await anonymous.get(path)).status_code == 200, path


async def test_revoked_token_stops_working_after_forget(
    make_client: ClientFactory, store: MemoryStore, role_tokens: dict[str, str], app: object
) -> None:
    viewer = make_client("viewer")
    assert (await viewer.get("/api/v1/runs")).status_code == 200
    digest = tokens.hash_token(role_tokens["viewer"])
    assert await tokens.revoke_token(store, digest)
    # Still cached: the TTL bounds how long a revoked token keeps working.
    assert (await viewer.get("/api/v1/runs")).status_code == 200
    app.state.basir.auth.forget(digest)  # type: ignore[attr-defined]
    assert_problem(await viewer.get("/api/v1/runs"), 401, "auth.unauthorized")


async def test_authenticator_caches_verified_tokens(store: MemoryStore) -> None:
    await tokens.create_user(store, "ana", ["viewer"])
    token = await tokens.issue_token(store, "ana", name="laptop")
    auth = Authenticator(store, ttl_s=60)
    principal = await auth.authenticate(f"Bearer {token}")
    assert principal == Principal("ana", frozenset({"viewer"}), "laptop")
    calls = 0
    original = store.kv_get

    async def counting(kind: str, key: str) -> object:
        nonlocal calls
        calls += 1
        return await original(kind, key)

    store.kv_get = counting  # type: ignore[method-assign]
    for _ in range(5):
        await auth.authenticate(f"Bearer {token}")
    assert calls == 0


async def test_expired_token_and_disabled_user(store: MemoryStore) -> None:
    await tokens.create_user(store, "old", ["viewer"])
    token = await tokens.issue_token(store, "old")
    document = await store.kv_get(tokens.TOKEN_KIND, tokens.hash_token(token))
    assert document is not None
    await store.kv_put(tokens.TOKEN_KIND, tokens.hash_token(token), {**document, "expires_at": 1})
    assert await tokens.lookup(store, token) is None
    token2 = await tokens.issue_token(store, "old")
    user = await store.kv_get(tokens.USER_KIND, "old")
    assert user is not None
    await store.kv_put(tokens.USER_KIND, "old", {**user, "disabled": True})
    assert await tokens.lookup(store, token2) is None


def test_tokens_are_random_urlsafe_and_stored_hashed() -> None:
    first, second = tokens.new_token(), tokens.new_token()
    assert first != second
    assert len(first) >= 43
    assert tokens.looks_like_token(first)
    assert tokens.hash_token(first) != first
    assert len(tokens.hash_token(first)) == 64


async def test_first_start_creates_admin_with_one_time_token(store: MemoryStore) -> None:
    token = await tokens.ensure_admin(store)
    assert token is not None
    assert await tokens.ensure_admin(store) is None  # printed once only
    principal = await tokens.lookup(store, token)
    assert principal is not None and principal.user == "admin"
    assert permissions_of(principal) == frozenset(Permission)
    stored = await store.kv_list(tokens.TOKEN_KIND)
    assert all(token not in str(document) for _key, document in stored)


async def test_configured_admin_token_is_used_verbatim(store: MemoryStore) -> None:
    chosen = "automation-token-1234567890"
    assert await tokens.ensure_admin(store, chosen) is None
    assert await tokens.ensure_admin(store, chosen) is None
    principal = await tokens.lookup(store, chosen)
    assert principal is not None and "admin" in principal.roles


async def test_rotating_the_admin_token_revokes_the_previous_one(store: MemoryStore) -> None:
    first = await tokens.ensure_admin(store)  # a first start without BASIR_ADMIN_TOKEN
    assert first is not None
    old, new = "automation-token-A-1234567890", "automation-token-B-1234567890"
    await tokens.create_user(store, "ci", ["operator"])
    other = await tokens.issue_token(store, "ci", name="ci")
    assert await tokens.ensure_admin(store, old) is None
    assert await tokens.lookup(store, first) is None  # the configured token replaces it
    assert await tokens.lookup(store, old) is not None
    assert await tokens.ensure_admin(store, new) is None
    assert await tokens.lookup(store, old) is None
    assert await tokens.lookup(store, new) is not None
    assert await tokens.lookup(store, other) is not None  # other users' tokens stay
    assert await tokens.ensure_admin(store, new) is None  # a restart with the same token
    assert await tokens.lookup(store, new) is not None
    assert await tokens.ensure_admin(store, old) is None  # rotating back re-enables it
    assert await tokens.lookup(store, old) is not None
    assert await tokens.lookup(store, new) is None


@pytest.mark.parametrize("weak", ["short", "has spaces in it and is long", "x" * 19])
async def test_weak_admin_token_is_rejected(store: MemoryStore, weak: str) -> None:
    with pytest.raises(BasirError) as caught:
        await tokens.ensure_admin(store, weak)
    assert caught.value.code == "auth.weak_admin_token"


async def test_unknown_role_is_rejected(store: MemoryStore) -> None:
    with pytest.raises(BasirError):
        await tokens.create_user(store, "eve", ["root"])


def test_bearer_parsing() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer  abc ") == "abc"
    assert bearer_token("Token abc") is None
    assert bearer_token(None) is None


async def test_token_cache_is_bounded(store: MemoryStore, monkeypatch: pytest.MonkeyPatch) -> None:
    from basir.security import auth as auth_module

    monkeypatch.setattr(auth_module, "AUTH_CACHE_MAX_ENTRIES", 2)
    await tokens.create_user(store, "many", ["viewer"])
    authenticator = Authenticator(store)
    for _ in range(5):
        await authenticator.authenticate(f"Bearer {await tokens.issue_token(store, 'many')}")
    assert len(authenticator._cache) <= 2
    authenticator.forget()
    assert not authenticator._cache


async def test_unknown_token_for_missing_user_is_401(store: MemoryStore) -> None:
    token = await tokens.issue_token(store, "nobody")
    with pytest.raises(BasirError) as caught:
        await Authenticator(store).authenticate(f"Bearer {token}")
    assert caught.value.kind == "unauthorized"


async def test_revoke_unknown_token(store: MemoryStore) -> None:
    assert not await tokens.revoke_token(store, "0" * 64)


async def test_principal_hint_on_http(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/workflows")).status_code == 200
