"""Reservations and quotas kept in the store (its key-value documents), and how they are shown.

Documents of kind `resource_reservation` (by id) and `resource_quota` (by namespace), like
the pool overrides (`resource_pool`): few, read whole, so no table of their own.  The checks
are the pure ones of `resources.reservations` and `resources.quotas`; this module only reads
and writes, and turns records into what the API and the CLI show.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Mapping
from typing import Any

from basir.errors import BasirError, NotFoundError
from basir.i18n import _
from basir.resources.fitting import CPU
from basir.resources.quotas import MAX_QUOTAS, Quota
from basir.resources.reservations import (
    MAX_RESERVATIONS,
    ReservationInput,
    checked,
    in_force,
    refuse_overcommit,
)
from basir.resources.windows import Reservation, next_start, window_at
from basir.scheduler.cron import utc_iso
from basir.store.base import KeyValueStore

RESERVATION_KIND = "resource_reservation"
QUOTA_KIND = "resource_quota"


async def reservations(store: KeyValueStore) -> list[Reservation]:
    """Every stored reservation, by id."""
    found = await store.kv_list(RESERVATION_KIND, limit=MAX_RESERVATIONS + 1)
    return [Reservation(**doc) for _key, doc in found]


async def reserved_now(store: KeyValueStore) -> dict[str, int]:
    """Per pool, what the stored reservations in force now hold (whole amounts)."""
    held: dict[str, int] = {}
    for reservation, _end in in_force(await reservations(store), time.time()):
        held[reservation.pool] = held.get(reservation.pool, 0) + reservation.amount
    return held


async def add_reservation(
    store: KeyValueStore,
    given: ReservationInput,
    capacity: Mapping[str, int],
    *,
    now: float,
    by: str | None,
) -> Reservation:
    """Check `given`, refuse it if its pool would be over-committed, store it and return it.

    The decisive check runs inside the store's write transaction, serialised across every
    process sharing the store (`kv_put_checked`): two servers on one database never both
    accept reservations that together exceed a pool.  A first check outside it refuses the
    obvious cases early and warms the cron-window cache, so the one inside is quick.
    """
    made = checked(given, capacity, id=f"rsv-{uuid.uuid4().hex[:12]}", now=now, by=by)

    def refuse(documents: list[tuple[str, dict[str, Any]]]) -> None:
        existing = [Reservation(**doc) for _key, doc in documents]
        if len(existing) >= MAX_RESERVATIONS:
            raise BasirError(
                "reservation.too_many",
                _("at most {limit} reservations; delete old ones first", limit=MAX_RESERVATIONS),
                kind="limit",
            )
        refuse_overcommit(made, existing, capacity, now)

    # Walking a year of cron windows takes a while the first time: off the event loop.
    await asyncio.to_thread(refuse, await store.kv_list(RESERVATION_KIND, MAX_RESERVATIONS + 1))
    await store.kv_put_checked(
        RESERVATION_KIND, made.id, dataclasses.asdict(made), refuse, limit=MAX_RESERVATIONS + 1
    )
    return made


async def delete_reservation(store: KeyValueStore, reservation_id: str) -> None:
    """Remove one reservation; `reservation.not_found` when there is none by that id."""
    if not await store.kv_delete(RESERVATION_KIND, reservation_id):
        raise NotFoundError("reservation.not_found", _("no reservation {id}", id=reservation_id))


def shown_reservation(reservation: Reservation, now: float) -> dict[str, Any]:
    """A reservation as the API shows it: cpu in cores, times in UTC ISO 8601, and its state."""
    data: dict[str, Any] = {
        "id": reservation.id,
        "pool": reservation.pool,
        "amount": reservation.amount / 1000 if reservation.pool == CPU else reservation.amount,
        reservation.holder_kind: reservation.holder,
        "created_at": utc_iso(reservation.created_at),
        "created_by": reservation.created_by,
    }
    if reservation.recurring:
        data.update(
            cron=reservation.cron, duration_s=reservation.duration_s, timezone=reservation.timezone
        )
    else:
        assert reservation.start is not None and reservation.end is not None
        data.update({"from": utc_iso(reservation.start), "to": utc_iso(reservation.end)})
    window = window_at(reservation, now)
    data["active"] = window is not None
    if window is not None:
        data["until"] = utc_iso(window[1])
    upcoming = next_start(reservation, now)
    data["next"] = utc_iso(upcoming) if upcoming is not None else None
    return data


async def quotas(store: KeyValueStore) -> list[Quota]:
    """Every stored quota, by namespace."""
    return [Quota(**doc) for _key, doc in await store.kv_list(QUOTA_KIND, limit=MAX_QUOTAS)]


async def put_quota(store: KeyValueStore, quota: Quota) -> None:
    """Store (replace) a namespace's quota."""
    known = {q.namespace for q in await quotas(store)}
    if quota.namespace not in known and len(known) >= MAX_QUOTAS:
        raise BasirError(
            "quota.too_many", _("at most {limit} quotas", limit=MAX_QUOTAS), kind="limit"
        )
    await store.kv_put(QUOTA_KIND, quota.namespace, dataclasses.asdict(quota))


async def get_quota(store: KeyValueStore, namespace: str) -> Quota:
    """A namespace's quota; `quota.not_found` when it has none (it is then unlimited)."""
    doc = await store.kv_get(QUOTA_KIND, namespace)
    if doc is None:
        raise NotFoundError(
            "quota.not_found",
            _("namespace {ns} has no quota (it is unlimited, weight 1)", ns=namespace),
        )
    return Quota(**doc)
