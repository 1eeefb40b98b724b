"""`AuditRecorder`: queues audit entries and appends them in batches from one background task.

A request only puts its entry in a queue (no I/O on the request path); one task takes what is
queued, up to `max_batch` entries, and appends it with one `Store.audit_append` (one
transaction, chained in order).  A single writer keeps the chain in the order requests ended.
`stop()` writes everything still queued.

Crash window: entries queued but not yet appended are lost if the process dies (kill -9,
power cut) — in practice the entries of the last few milliseconds, the time one append takes.
A failed append is retried (the entries stay queued, in order); past `max_pending` queued
entries new ones are dropped and counted, so a store outage cannot exhaust memory.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import MutableMapping
from typing import Any

from basir.security.tokens import Principal
from basir.store.audit_records import AuditEntry
from basir.store.base import AuditStore

log = logging.getLogger("basir.audit")

MAX_BATCH = 500
MAX_PENDING = 100_000
RETRY_S = 1.0
STOP_TIMEOUT_S = 10.0
# The request scope key under which authentication leaves the caller's `Principal`.
AUDIT_PRINCIPAL = "basir.audit_principal"


def mark_caller(scope: MutableMapping[str, Any], principal: Principal) -> None:
    """Tell the audit log who calls (authentication calls this as soon as it knows)."""
    scope[AUDIT_PRINCIPAL] = principal


class AuditRecorder:
    """The one writer of the audit log for an app."""

    def __init__(
        self,
        store: AuditStore,
        *,
        max_batch: int = MAX_BATCH,
        max_pending: int = MAX_PENDING,
        retry_s: float = RETRY_S,
    ) -> None:
        self._store = store
        self._max_batch = max(1, max_batch)
        self._max_pending = max(1, max_pending)
        self._retry_s = retry_s
        self._pending: deque[AuditEntry] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.written = 0  # entries appended so far
        self.dropped = 0  # entries refused because too many were queued

    def record(self, entry: AuditEntry) -> None:
        """Queue one entry (never blocks, never raises)."""
        if len(self._pending) >= self._max_pending:
            if self.dropped == 0:
                log.error(
                    "audit: %d entries queued; the store does not keep up, dropping",
                    len(self._pending),
                )
            self.dropped += 1
            return
        self._pending.append(entry)
        self._idle.clear()
        self._wake.set()
        if self._task is None and not self._stopping:
            self.start()  # an app served without its lifespan (tests) still writes

    def start(self) -> None:
        """Start the writer task (once)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="basir-audit-writer")

    async def drained(self) -> None:
        """Return once every entry queued so far is appended (or the recorder stopped)."""
        await self._idle.wait()

    async def stop(self) -> None:
        """Append everything still queued, then end the writer task."""
        self._stopping = True
        self._wake.set()
        task, self._task = self._task, None
        if task is not None:
            try:
                await asyncio.wait_for(task, STOP_TIMEOUT_S)
            except TimeoutError:
                log.error("audit: %d entries not written at shutdown", len(self._pending))
        self._idle.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                if not await self._write_one_batch() and self._stopping:
                    return
            self._idle.set()
            if self._stopping:
                return

    async def _write_one_batch(self) -> bool:
        batch = [self._pending.popleft() for _ in range(min(self._max_batch, len(self._pending)))]
        try:
            await self._store.audit_append(batch)
        except Exception:  # the store is down or closing: keep the entries, in order
            log.exception("audit: appending %d entries failed; retrying", len(batch))
            self._pending.extendleft(reversed(batch))
            if self._stopping:
                log.error("audit: %d entries not written at shutdown", len(self._pending))
            else:
                await asyncio.sleep(self._retry_s)
            return False
        self.written += len(batch)
        return True
