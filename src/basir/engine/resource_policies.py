"""Reservations and quotas of a live engine: change them in the store, apply them at once.

The faces (API, CLI with `--server`) call these; each change is stored first
(`resources.policy_store`), then the engine's governor is reloaded from the store and every
waiting task is offered again, so a deleted reservation or a raised quota starts what it held
back without waiting for a release.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from basir.resources import policy_store
from basir.resources.quotas import HOUR_S, checked_quota
from basir.resources.reservations import ReservationInput

if TYPE_CHECKING:
    from basir.engine.runtime import Engine

SEED_PAGE = 500
MAX_SEED_PAGES = 200  # at most 100,000 runs of the past hour are read at start


async def attach(engine: Engine, wake: Any) -> None:
    """Load the stored reservations and quotas into the engine; wire the time-based re-offer.

    `wake` wakes the engine's pump (waiting tasks offered again need a dispatch).
    """
    admission = engine.flow.admission

    def on_time() -> None:
        admission.rewake(engine.flow.push_ready)
        wake()

    admission.on_time = on_time
    await reload(engine)
    await _seed_starts(engine, time.time())


async def _seed_starts(engine: Engine, now: float) -> None:
    """Count the runs created in the past hour (by any earlier process) toward `runs_per_hour`.

    Reads the store's runs newest first, a page at a time, only back to an hour ago and only
    when some quota limits the hourly rate.
    """
    governor = engine.flow.admission.governor
    limited = {ns for ns, quota in governor.quotas.items() if quota.runs_per_hour}
    if not limited:
        return
    found: dict[str, list[float]] = {}
    cursor: str | None = None
    for _page in range(MAX_SEED_PAGES):
        page = await engine.store.list_runs(limit=SEED_PAGE, cursor=cursor)
        for record in page.items:
            if record.created_at <= now - HOUR_S:
                cursor = None
                break
            if record.namespace in limited:
                found.setdefault(record.namespace, []).append(record.created_at)
        else:
            cursor = page.next
        if cursor is None:
            break
    for namespace, starts in found.items():
        governor.seed_starts(namespace, starts)


async def reload(engine: Engine) -> None:
    """Apply what the store holds now; offer every waiting task again."""
    governor = engine.flow.admission.governor
    governor.set_reservations(await policy_store.reservations(engine.store))
    governor.quotas = {quota.namespace: quota for quota in await policy_store.quotas(engine.store)}
    share = getattr(engine.flow.ready, "share", None)
    if share is not None:
        share.weights = governor.weights()
    if engine.flow.admission.on_time is not None:
        engine.flow.admission.on_time()


def refuse_run(engine: Engine, namespace: str, now: float) -> None:
    """Raise `quota.exceeded` when the namespace's `refuse` quota does not accept a new run now
    (whoever creates it: a request, a decision, a cron fire); otherwise count it."""
    flow = engine.flow
    flow.admission.governor.refuse_run(namespace, flow.runs.values(), now)


async def add_reservation(
    engine: Engine, given: ReservationInput, by: str | None
) -> dict[str, Any]:
    """Store a checked reservation (refused when its pool would be over-committed); apply it."""
    governor = engine.flow.admission.governor
    # The over-commitment check is serialised by the store, across processes; the lock keeps
    # this engine's reloads in order.
    async with governor.writing:
        now = time.time()
        capacity = engine.flow.admission.allocator.capacity
        made = await policy_store.add_reservation(engine.store, given, capacity, now=now, by=by)
        await reload(engine)
    return policy_store.shown_reservation(made, now)


async def list_reservations(engine: Engine) -> list[dict[str, Any]]:
    """Every reservation with its state now (active, until, next window)."""
    now = time.time()
    found = await policy_store.reservations(engine.store)
    return [policy_store.shown_reservation(reservation, now) for reservation in found]


async def delete_reservation(engine: Engine, reservation_id: str) -> None:
    """Remove a reservation (`reservation.not_found`); what it kept out may start at once."""
    await policy_store.delete_reservation(engine.store, reservation_id)
    await reload(engine)


async def set_quota(engine: Engine, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
    """Replace a namespace's quota (`quota.invalid` for a bad field); apply it at once."""
    quota = checked_quota(namespace, body)
    await policy_store.put_quota(engine.store, quota)
    await reload(engine)
    return quota.shown()


def _in_use(engine: Engine, namespace: str, now: float) -> dict[str, Any]:
    """What a namespace holds now: tasks, cpu (cores), memory (bytes), active runs, runs
    started in the past hour."""
    usage = engine.flow.admission.governor.usage(namespace, now)
    return {
        "tasks": usage.tasks,
        "cpu": usage.cpu / 1000,
        "memory": usage.memory,
        "runs": usage.runs,
        "runs_past_hour": len(usage.starts),
    }


async def get_quota(engine: Engine, namespace: str) -> dict[str, Any]:
    """A namespace's quota with what it uses now."""
    quota = await policy_store.get_quota(engine.store, namespace)
    return {**quota.shown(), "in_use": _in_use(engine, namespace, time.time())}


async def quotas_in_use(engine: Engine) -> list[dict[str, Any]]:
    """Every namespace quota with what it uses now (one read of the store for all)."""
    now = time.time()
    found = await policy_store.quotas(engine.store)
    return [{**q.shown(), "in_use": _in_use(engine, q.namespace, now)} for q in found]


async def list_quotas(engine: Engine) -> list[dict[str, Any]]:
    """Every namespace quota."""
    return [quota.shown() for quota in await policy_store.quotas(engine.store)]
