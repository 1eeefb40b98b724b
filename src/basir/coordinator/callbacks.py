"""Decision callbacks: tell L2 when a decision's run has ended, durably, at least once.

The service watches the event bus for `run.succeeded`, `run.failed` and `run.cancelled`.  A
run that has a `decision_callback` record (written by `Decisions` before the run started) gets
a signed JSON POST to its `callback_url`, tried up to `MAX_TRIES` times with doubling delays.
Every step is written to the record first, so a server stopped mid-delivery resends on its
next start (`start` rescans the open records), with the same `X-Basir-Delivery` id so the
receiver can drop the repeat.  The outcome is an event: `decision.callback_delivered` or
`decision.callback_failed`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from basir.coordinator.callback_delivery import (
    CALLBACK_KIND,
    FIRST_RETRY_DELAY_S,
    MAX_TRIES,
    OPEN_KIND,
    REQUEST_TIMEOUT_S,
    CallbackState,
    callback_body,
    encode,
    headers_for,
    needs_delivery,
    retry_delay_s,
)
from basir.events.bus import EventBus, Subscription
from basir.states import RUN_TERMINAL
from basir.store.base import Store
from basir.store.records import Batch, EventRecord

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

RUN_END_EVENTS = frozenset({"run.succeeded", "run.failed", "run.cancelled"})
# Open callbacks read at start; a backlog this large is reported (the rest wait for a restart).
SCAN_LIMIT = 10_000


class Callbacks:
    """Delivers the callbacks of one store's decisions; `start` it beside the engine."""

    def __init__(
        self,
        store: Store,
        bus: EventBus,
        *,
        secret: str | None,
        max_tries: int = MAX_TRIES,
        first_retry_delay_s: float = FIRST_RETRY_DELAY_S,
        timeout_s: float = REQUEST_TIMEOUT_S,
    ) -> None:
        self._store = store
        self._bus = bus
        self._secret = secret or None
        self._max_tries = max_tries
        self._first_delay_s = first_retry_delay_s
        self._timeout_s = timeout_s
        self._client: httpx.AsyncClient | None = None
        self._subscription: Subscription | None = None
        self._watcher: asyncio.Task[None] | None = None
        # At most one delivery per run in this process.
        self._sending: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()

    @property
    def signed(self) -> bool:
        """Whether deliveries carry `X-Basir-Signature` (a secret is configured)."""
        return self._secret is not None

    async def start(self) -> None:
        """Watch runs end, then resend every callback left open by an earlier process."""
        import httpx

        self._client = httpx.AsyncClient(timeout=self._timeout_s, follow_redirects=False)
        # Subscribe before the scan: a run ending in between is seen by one or the other.
        self._subscription = self._bus.subscribe(lambda e: e.type in RUN_END_EVENTS)
        self._watcher = asyncio.create_task(self._watch(self._subscription))
        await self.rescan()

    async def rescan(self) -> int:
        """Deliver every open callback whose run has ended; returns how many were started."""
        started = 0
        markers = await self._store.kv_list(OPEN_KIND, limit=SCAN_LIMIT)
        if len(markers) >= SCAN_LIMIT:
            log.warning("open callbacks reach the scan limit %d; some wait", SCAN_LIMIT)
        for run_id, _marker in markers:
            run = await self._store.get_run(run_id)
            if run is None or run.status in RUN_TERMINAL:
                self._spawn(run_id)
                started += 1
        return started

    async def stop(self) -> None:
        """Stop watching and cancel deliveries in flight (their records stay open: resent)."""
        if self._subscription is not None:
            self._subscription.close()
        self._again.clear()
        tasks = [t for t in (self._watcher, *self._sending.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._sending.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def idle(self) -> None:
        """Wait until no delivery is in flight (tests, orderly shutdown)."""
        while self._sending:
            await asyncio.gather(*self._sending.values(), return_exceptions=True)

    async def _watch(self, subscription: Subscription) -> None:
        while True:
            event = await subscription.get()
            if subscription.lagged:
                # Events were dropped: the store still knows which records are open.
                subscription.lagged = False
                await self.rescan()
            if event.run_id is not None:
                self._spawn(event.run_id)

    def _spawn(self, run_id: str) -> None:
        if run_id in self._sending:
            # The run ended again (retried) while an earlier ending was being announced.
            self._again.add(run_id)
            return
        task = asyncio.create_task(self._deliver_safely(run_id))
        self._sending[run_id] = task
        task.add_done_callback(lambda _: self._done(run_id))

    def _done(self, run_id: str) -> None:
        self._sending.pop(run_id, None)
        if run_id in self._again and self._watcher is not None and not self._watcher.done():
            self._again.discard(run_id)
            self._spawn(run_id)

    async def _deliver_safely(self, run_id: str) -> None:
        try:
            await self.deliver(run_id)
        except asyncio.CancelledError:
            raise
        except Exception:  # the record stays open: the next start tries again
            log.exception("callback delivery for run %s failed", run_id)

    async def deliver(self, run_id: str) -> None:
        """Announce the end of `run_id` to its decision's callback_url, if it has one."""
        record = await self._store.kv_get(CALLBACK_KIND, run_id)
        run = await self._store.get_run(run_id)
        if record is None or run is None:
            # Left by a decision whose run never started (a crash in between): nothing to say.
            await self._store.kv_delete(OPEN_KIND, run_id)
            return
        if run.status not in RUN_TERMINAL:
            return
        if not needs_delivery(record, run):
            await self._store.kv_delete(OPEN_KIND, run_id)  # closed, but the marker survived
            return
        if record.get("state") != CallbackState.SENDING or record["finished_at"] != run.finished_at:
            # A new ending gets a new delivery id, stored before the first try.
            await self._store.kv_put(OPEN_KIND, run_id, {})
            record.update(
                state=CallbackState.SENDING.value,
                finished_at=run.finished_at,
                delivery_id=uuid.uuid4().hex,
                attempts=0,
                last_error=None,
            )
            await self._store.kv_put(CALLBACK_KIND, run_id, record)
        payload = encode(callback_body(record, run, await self._store.get_tasks(run_id)))
        headers = headers_for(payload, str(record["delivery_id"]), self._secret)
        while int(record["attempts"]) < self._max_tries:
            await asyncio.sleep(retry_delay_s(int(record["attempts"]), self._first_delay_s))
            # Counted before it is sent: a try cut short by a crash still counts as made.
            record["attempts"] = int(record["attempts"]) + 1
            await self._store.kv_put(CALLBACK_KIND, run_id, record)
            error = await self._post(str(record["url"]), payload, headers)
            if error is None:
                record.update(state=CallbackState.DELIVERED.value, delivered_at=time.time())
                await self._close(run_id, record, "decision.callback_delivered")
                return
            record["last_error"] = error
        record["state"] = CallbackState.FAILED.value
        await self._close(run_id, record, "decision.callback_failed")

    async def _close(self, run_id: str, record: dict[str, Any], kind: str) -> None:
        """Store the outcome, leave the outbox, and say so with an event."""
        await self._store.kv_put(CALLBACK_KIND, run_id, record)
        await self._store.kv_delete(OPEN_KIND, run_id)
        await self._record_event(kind, record)

    async def _post(self, url: str, payload: bytes, headers: dict[str, str]) -> str | None:
        """One try; None on a 2xx answer, else what went wrong (kept in the record)."""
        import httpx

        assert self._client is not None, "Callbacks.start() was not called"
        try:
            response = await self._client.post(url, content=payload, headers=headers)
        except httpx.HTTPError as error:
            return f"{type(error).__name__}: {error}"[:500]
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"

    async def _record_event(self, kind: str, record: dict[str, Any]) -> None:
        data = {
            "decision_id": record["decision_id"],
            "run_id": record["run_id"],
            "delivery_id": record["delivery_id"],
            "attempts": record["attempts"],
        }
        if kind == "decision.callback_failed":
            data["error"] = record.get("last_error")
        event = EventRecord(
            type=kind,
            subject=f"decisions/{record['decision_id']}",
            time=time.time(),
            data=data,
            run_id=str(record["run_id"]),
            workflow=record.get("workflow"),
        )
        self._bus.publish(await self._store.write(Batch(events=[event])))
