"""Gathering the health overview's facts from an engine, its store and the disk.

Shared by `GET /api/v1/health` and the alerting's periodic health rules, so both judge the
same facts the same way (`basir.monitoring.health_overview.assess`).
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

from basir.engine.runtime import Engine
from basir.monitoring.alert_rules import FIRING
from basir.monitoring.health_overview import Facts
from basir.monitoring.snapshot import oldest_queued_at

STORE_TIMEOUT_S = 2.0
MAX_ALERTS = 1000


def disk_free_ratio(path: Path) -> float | None:
    """The free share of the disk holding `path` (None when it cannot be read)."""
    try:
        usage = shutil.disk_usage(path)
    except OSError:
        return None
    return usage.free / usage.total if usage.total else None


async def gather(engine: Engine, max_parallel: int, home: Path) -> Facts:
    """The facts of one engine, its store and the disk of `home`, now."""
    store = engine.store
    try:
        answers = await asyncio.wait_for(store.ping(), STORE_TIMEOUT_S)
    except Exception:
        answers = False
    health = engine.health()
    oldest = oldest_queued_at(engine)
    firing = await store.alert_list(state=FIRING, limit=MAX_ALERTS) if answers else []
    return Facts(
        store_answers=answers,
        store_retrying=health.store_retrying,
        engine_running=health.pump_alive,
        engine_fault=health.fault,
        slots_used=engine.flow.slots_used,
        slots=max_parallel,
        queue_depth=len(engine.flow.ready),
        oldest_wait_s=None if oldest is None else max(0.0, time.time() - oldest),
        firing=len(firing),
        firing_unhandled=sum(1 for a in firing if not a.acked_by and not a.silenced_by),
        disk_free_ratio=await asyncio.to_thread(disk_free_ratio, home),
    )
