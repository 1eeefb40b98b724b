"""`AuditRecorder` and `AuditMiddleware.entry_of`: queued entries land in order, in batches,
survive a store outage, are flushed at stop; what a request records."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from basir.api.audit_middleware import entry_of
from basir.security.audit import verify
from basir.security.audit_recorder import AUDIT_PRINCIPAL, AuditRecorder
from basir.security.tokens import Principal
from basir.store.audit_records import AuditEntry
from basir.store.base import StoreError
from basir.store.memory import MemoryStore


def entry(i: int) -> AuditEntry:
    return AuditEntry(time=float(i), actor="admin", action="POST /api/v1/workflows", status=201)


class FlakyStore(MemoryStore):
    """A memory store whose first `failures` appends fail (a store outage)."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.batches: list[int] = []

    async def audit_append(self, entries: list[AuditEntry]) -> list[AuditEntry]:
        if self.failures:
            self.failures -= 1
            raise StoreError("down")
        self.batches.append(len(entries))
        return await super().audit_append(entries)


async def test_entries_land_in_order_in_batches_and_stop_flushes() -> None:
    store = FlakyStore(0)
    await store.open()
    recorder = AuditRecorder(store, max_batch=4)
    recorder.start()
    for i in range(10):
        recorder.record(entry(i))
    await recorder.stop()
    log = await store.audit_list(after_id=0, limit=100)
    assert [e.time for e in log] == [float(i) for i in range(10)]
    assert verify(log) is None
    assert max(store.batches) <= 4 and sum(store.batches) == 10 and recorder.written == 10


async def test_a_failed_append_is_retried_in_order() -> None:
    store = FlakyStore(2)
    await store.open()
    recorder = AuditRecorder(store, retry_s=0.01)
    for i in range(3):
        recorder.record(entry(i))  # starts the writer itself
    await asyncio.wait_for(recorder.drained(), 5)
    log = await store.audit_list(after_id=0, limit=100)
    assert [e.time for e in log] == [0.0, 1.0, 2.0]
    await recorder.stop()


async def test_past_the_queue_limit_entries_are_dropped_and_counted() -> None:
    store = FlakyStore(0)
    await store.open()
    recorder = AuditRecorder(store, max_pending=2)
    recorder._stopping = True  # keep the writer from starting: only the queue is tested
    for i in range(5):
        recorder.record(entry(i))
    assert recorder.dropped == 3


def scope(method: str, route: str | None, principal: Principal | None = None) -> dict[str, object]:
    found: dict[str, object] = {"method": method, "path_params": {"run_id": "r1"}}
    if route is not None:
        found["route"] = SimpleNamespace(path=route)
    if principal is not None:
        found[AUDIT_PRINCIPAL] = principal
    return found


def test_a_mutating_request_records_actor_token_action_target_and_status() -> None:
    who = Principal("dana", frozenset({"operator"}), token_name="laptop")
    made = entry_of(scope("POST", "/api/v1/runs/{run_id}/cancel", who), 202, 5.0)
    assert made == AuditEntry(
        time=5.0,
        actor="dana",
        action="POST /api/v1/runs/{run_id}/cancel",
        target={"run_id": "r1"},
        status=202,
        detail={"token": "laptop"},
    )
    unknown = entry_of(scope("DELETE", "/api/v1/reservations/{reservation_id}"), 401, 1.0)
    assert unknown is not None and unknown.actor is None and unknown.detail == {}


def test_reads_and_unmatched_requests_are_not_recorded() -> None:
    assert entry_of(scope("GET", "/api/v1/runs"), 200, 1.0) is None
    assert entry_of(scope("POST", None), 404, 1.0) is None
