"""The store's engine lock (`take_engine_lock`), every store: one engine drives a store.

Two store instances on one database stand for two servers: the first takes the lock, the
second is refused while the first holds it and gets it once the first closes.  A memory store
is private to its instance: it always holds its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from basir.store.base import Store

StoreFactory = Callable[[], Awaitable[Store]]  # the `make_store` fixture


async def test_one_store_instance_at_a_time_holds_the_engine_lock(
    store_url: str, make_store: StoreFactory
) -> None:
    first = await make_store()
    assert await first.take_engine_lock()
    assert await first.take_engine_lock()  # held already: still ours
    if store_url == "memory://":
        return
    second = await make_store()
    assert not await second.take_engine_lock()
    assert not await second.take_engine_lock()  # asking again changes nothing
    await first.close()
    assert await second.take_engine_lock()
    third = await make_store()
    assert not await third.take_engine_lock()
