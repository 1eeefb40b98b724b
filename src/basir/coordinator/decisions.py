"""L2 decisions (first cut of the contract): each decision becomes exactly one run.

A decision is a small document of kind `decision` keyed by its `decision_id`.  The first
request reserves the id with an insert-if-absent, then submits the run and records its id;
a repeat of the same request returns the same run instead of starting another.  A repeat
with a different payload is a conflict: an id names one decision, not a family of them.
If the submission is rejected (e.g. bad params), the reservation is marked `rejected` so a
corrected request with the same id may try again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from basir.coordinator.callback_delivery import (
    CALLBACK_KIND,
    OPEN_KIND,
    CallbackState,
    waiting_record,
)
from basir.engine.runtime import Engine
from basir.errors import BasirError, ConflictError, NotFoundError
from basir.i18n import _
from basir.states import RUN_TERMINAL
from basir.store.base import Store

DECISION_KIND = "decision"
# A reservation with no run after this long was left by a crashed process: take it over.
STALE_RESERVATION_S = 30.0
RESERVATION_WAIT_S = 5.0
RESERVATION_POLL_S = 0.05


@dataclass(slots=True)
class DecisionRequest:
    """What L2 asks for: run `workflow` with `params`, at most once per `decision_id`."""

    decision_id: str
    workflow: str
    params: dict[str, Any] = field(default_factory=dict)
    priority: int | None = None
    deadline_s: float | None = None
    callback_url: str | None = None

    def fingerprint(self) -> str:
        """A hash of the request's content, to tell a repeat from a different decision."""
        canonical = json.dumps(asdict(self), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(slots=True)
class DecisionResult:
    """The run that carries a decision out, and whether this request created it."""

    decision_id: str
    run_id: str
    status: str
    created: bool


def decision_run_id(decision_id: str) -> str:
    """The id of the run a decision starts: derived from the decision id, so that a retry
    after a crash can find the run the first attempt created instead of starting another."""
    return hashlib.sha256(f"decision:{decision_id}".encode()).hexdigest()[:21]


def decision_not_found(decision_id: str) -> NotFoundError:
    """No decision with this id."""
    return NotFoundError(
        "decision.not_found", _("no decision with id {decision_id}", decision_id=decision_id)
    )


def _workflow_not_found(name: str) -> NotFoundError:
    return NotFoundError("workflow.not_found", _("no workflow named {name}", name=name))


class Decisions:
    """Accepts and reports decisions for one store and engine."""

    def __init__(self, store: Store, engine: Engine) -> None:
        self._store = store
        self._engine = engine
        # Serialises concurrent repeats of one id inside this process.
        self._locks: dict[str, asyncio.Lock] = {}

    async def submit(self, request: DecisionRequest, *, by: str | None) -> DecisionResult:
        """Start the decision's run, or return the run a previous identical request started."""
        lock = self._locks.setdefault(request.decision_id, asyncio.Lock())
        try:
            async with lock:
                return await self._submit(request, by)
        finally:
            if not lock.locked() and self._locks.get(request.decision_id) is lock:
                del self._locks[request.decision_id]

    async def _submit(self, request: DecisionRequest, by: str | None) -> DecisionResult:
        fingerprint = request.fingerprint()
        run_id = decision_run_id(request.decision_id)
        existing = await self._wait_for_run(request.decision_id, run_id)
        if existing is not None and existing.get("state") != "rejected":
            if existing.get("fingerprint") != fingerprint:
                raise ConflictError(
                    "decision.conflict",
                    _(
                        "decision {decision_id} was already made with different content",
                        decision_id=request.decision_id,
                    ),
                )
            if existing.get("run_id"):
                return await self._result(request.decision_id, str(existing["run_id"]), False)
            raise ConflictError(
                "decision.in_progress",
                _(
                    "decision {decision_id} is being started by another request; retry shortly",
                    decision_id=request.decision_id,
                ),
            )
        workflow = await self._store.get_workflow(request.workflow)
        if workflow is None:
            raise _workflow_not_found(request.workflow)
        document: dict[str, Any] = {
            **asdict(request),
            "fingerprint": fingerprint,
            "state": "reserved",
            "run_id": None,
            "created_at": time.time(),
            "created_by": by,
        }
        if existing is None:
            if not await self._store.kv_put(
                DECISION_KIND, request.decision_id, document, only_if_absent=True
            ):
                # Another process reserved it between our read and insert: report its run.
                return await self._submit(request, by)
        else:
            await self._store.kv_put(DECISION_KIND, request.decision_id, document)
        callback: dict[str, Any] | None = None
        if request.callback_url is not None:
            # Before the run exists, so that however soon it ends, its end is announced.
            callback = waiting_record(
                request.decision_id, run_id, request.workflow, request.callback_url
            )
            await self._store.kv_put(OPEN_KIND, run_id, {})
            await self._store.kv_put(CALLBACK_KIND, run_id, callback)
        try:
            run = await self._engine.submit(
                workflow,
                params=request.params,
                priority=request.priority,
                deadline_s=request.deadline_s,
                trigger="decision",
                created_by=by,
                run_id=run_id,
            )
        except BasirError as error:
            document.update(state="rejected", error={"code": error.code, "message": error.message})
            await self._store.kv_put(DECISION_KIND, request.decision_id, document)
            if callback is not None:
                callback.update(state=CallbackState.REJECTED.value)
                await self._store.kv_put(CALLBACK_KIND, run_id, callback)
                await self._store.kv_delete(OPEN_KIND, run_id)
            raise
        document.update(state="started", run_id=run.id, version=run.version)
        await self._store.kv_put(DECISION_KIND, request.decision_id, document)
        return DecisionResult(request.decision_id, run.id, str(run.status), True)

    async def _wait_for_run(self, decision_id: str, run_id: str) -> dict[str, Any] | None:
        """The decision's document; waits briefly while another request is starting its run.

        A reservation whose run exists (the process died after submitting) is completed
        here; one without a run that is older than `STALE_RESERVATION_S` was abandoned and
        counts as rejected, so this request may start it.
        """
        deadline = time.monotonic() + RESERVATION_WAIT_S
        while True:
            existing = await self._store.kv_get(DECISION_KIND, decision_id)
            if existing is None or existing.get("state") != "reserved":
                return existing
            if await self._store.get_run(run_id) is not None:
                existing.update(state="started", run_id=run_id)
                await self._store.kv_put(DECISION_KIND, decision_id, existing)
                return existing
            age = time.time() - float(existing.get("created_at") or 0)
            if age > STALE_RESERVATION_S:
                return {**existing, "state": "rejected"}
            if time.monotonic() > deadline:
                return existing
            await asyncio.sleep(RESERVATION_POLL_S)

    async def _result(self, decision_id: str, run_id: str, created: bool) -> DecisionResult:
        run = await self._store.get_run(run_id)
        status = str(run.status) if run is not None else "unknown"
        return DecisionResult(decision_id, run_id, status, created)

    async def _callback(self, run_id: Any) -> dict[str, Any] | None:
        """Where the decision's callback stands: state, tries, last error, delivery id."""
        if not run_id:
            return None
        record = await self._store.kv_get(CALLBACK_KIND, str(run_id))
        if record is None:
            return None
        keys = ("state", "attempts", "delivery_id", "last_error", "delivered_at")
        return {key: record.get(key) for key in keys}

    async def get(self, decision_id: str) -> dict[str, Any]:
        """The decision with its run's status and, once the run has ended, its outcome."""
        from basir.engine.report import run_to_dict

        document = await self._store.kv_get(DECISION_KIND, decision_id)
        if document is None:
            raise decision_not_found(decision_id)
        run_id = document.get("run_id")
        status = document.get("state", "reserved")
        outcome: dict[str, Any] | None = None
        if run_id:
            run = await self._store.get_run(str(run_id))
            if run is not None:
                status = str(run.status)
                if run.status in RUN_TERMINAL:
                    tasks = await self._store.get_tasks(run.id)
                    outcome = run_to_dict(run, tasks, timestamps=True)
        return {
            "decision_id": decision_id,
            "workflow": document.get("workflow"),
            "run_id": run_id,
            "status": status,
            "outcome": outcome,
            "error": document.get("error"),
            "callback_url": document.get("callback_url"),
            "callback": await self._callback(run_id),
            "created_at": document.get("created_at"),
            "created_by": document.get("created_by"),
        }
