"""Checked key-value writes (`kv_put_checked`), every store; reservations racing across stores.

Two store instances on one database stand for two servers: their reservations race, and
exactly the ones that fit the pool are accepted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from basir.errors import BasirError
from basir.resources import policy_store
from basir.resources.reservations import ReservationInput
from basir.store.base import Store

Documents = list[tuple[str, dict[str, Any]]]
StoreFactory = Callable[[], Awaitable[Store]]  # the `make_store` fixture


async def test_a_checked_write_sees_the_stored_documents_and_lands(store: Store) -> None:
    await store.kv_put("pet", "a", {"n": 1})
    await store.kv_put("other", "z", {"n": 9})
    seen: list[Documents] = []
    await store.kv_put_checked("pet", "b", {"n": 2}, seen.append)
    assert seen == [[("a", {"n": 1})]]  # only its kind, by key
    assert await store.kv_list("pet") == [("a", {"n": 1}), ("b", {"n": 2})]


async def test_a_refused_checked_write_writes_nothing(store: Store) -> None:
    await store.kv_put("pet", "a", {"n": 1})

    def refuse(documents: Documents) -> None:
        raise BasirError("pet.full", f"{len(documents)} already")

    with pytest.raises(BasirError, match="1 already"):
        await store.kv_put_checked("pet", "b", {"n": 2}, refuse)
    assert await store.kv_list("pet") == [("a", {"n": 1})]
    await store.kv_put("pet", "c", {"n": 3})  # the store is still writable afterwards
    assert [key for key, _doc in await store.kv_list("pet")] == ["a", "c"]


async def test_the_check_is_given_at_most_limit_documents(store: Store) -> None:
    for key in "abc":
        await store.kv_put("pet", key, {})
    seen: list[int] = []
    await store.kv_put_checked("pet", "d", {}, lambda docs: seen.append(len(docs)), limit=2)
    assert seen == [2]


async def test_two_stores_racing_accept_exactly_the_reservations_that_fit(
    store_url: str, make_store: StoreFactory
) -> None:
    first = await make_store()
    # Two servers on one database; a memory store is private to its instance, so there the
    # race is between concurrent callers of the one instance.
    second = first if store_url == "memory://" else await make_store()
    now = time.time()
    capacity = {"gradle": 3}
    asks = [
        ReservationInput(
            pool="gradle", amount=1, namespace=f"team{i}", start=now + 3600, end=now + 7200
        )
        for i in range(12)
    ]

    async def reserve(store: Store, given: ReservationInput) -> bool:
        try:
            await policy_store.add_reservation(store, given, capacity, now=now, by=None)
        except BasirError as exc:
            assert exc.code == "reservation.overcommitted"
            return False
        return True

    outcomes = await asyncio.gather(
        *(reserve(first if i % 2 else second, given) for i, given in enumerate(asks))
    )
    assert sum(outcomes) == 3
    for store in (first, second):  # both see the same three
        stored = await policy_store.reservations(store)
        assert len(stored) == 3
        assert sum(r.amount for r in stored) == 3
