"""The pure parts of decision callbacks: URL checks, the record's lifecycle, body, signature.

A decision with a `callback_url` has one record of kind `decision_callback`, keyed by its run
id, written before the run is submitted.  Its `state` moves through `CallbackState`.  While it
is open (waiting or sending) an empty marker of kind `decision_callback_open` sits beside it:
that small set is the outbox a restarting server rescans, so the rescan costs the backlog,
not the history (at-least-once).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from basir.i18n import _
from basir.store.records import RunRecord, TaskRecord

CALLBACK_KIND = "decision_callback"
OPEN_KIND = "decision_callback_open"
MAX_CALLBACK_URL_CHARS = 2048
SIGNATURE_HEADER = "X-Basir-Signature"
DELIVERY_HEADER = "X-Basir-Delivery"
MAX_TRIES = 5
FIRST_RETRY_DELAY_S = 1.0
MAX_RETRY_DELAY_S = 60.0
REQUEST_TIMEOUT_S = 10.0


class CallbackState(StrEnum):
    """Lifecycle of one decision's callback (stored values: permanent names)."""

    WAITING = "waiting"  # the run has not ended
    SENDING = "sending"  # the run ended; a delivery with `delivery_id` is being tried
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # every try failed; given up
    REJECTED = "rejected"  # the decision's run was never started: nothing to send


OPEN_STATES = frozenset({CallbackState.WAITING, CallbackState.SENDING})


def callback_url_problem(url: str) -> str | None:
    """Why `url` cannot be a callback target (localised), or None when it can.

    http or https only, a host, at most `MAX_CALLBACK_URL_CHARS`, no user:password part (it
    would be stored and shown in clear), no spaces or control characters.
    """
    if len(url) > MAX_CALLBACK_URL_CHARS:
        return _("must be at most {limit} characters", limit=MAX_CALLBACK_URL_CHARS)
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return _("must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return _("must be a URL")
    del port  # read only to reject a malformed port
    if parts.scheme.lower() not in ("http", "https"):
        return _("must be an http or https URL")
    if not parts.hostname:
        return _("must name a host")
    if parts.username is not None or parts.password is not None:
        return _(
            "must not contain credentials (user:password@); sign with BASIR_CALLBACK_SECRET instead"
        )
    return None


def waiting_record(decision_id: str, run_id: str, workflow: str, url: str) -> dict[str, Any]:
    """The record stored before a decision's run is submitted."""
    return {
        "decision_id": decision_id,
        "run_id": run_id,
        "workflow": workflow,
        "url": url,
        "state": CallbackState.WAITING.value,
        "delivery_id": None,
        "finished_at": None,
        "attempts": 0,
        "last_error": None,
        "created_at": time.time(),
        "delivered_at": None,
    }


def needs_delivery(record: dict[str, Any], run: RunRecord) -> bool:
    """Whether this ending of `run` still has to be announced.

    A retried run ends again with a new `finished_at`: that ending gets its own delivery.
    """
    state = record.get("state")
    if state == CallbackState.REJECTED:
        return False
    if state in (CallbackState.DELIVERED, CallbackState.FAILED):
        return record.get("finished_at") != run.finished_at
    return True


def iso_utc(timestamp: float | None) -> str | None:
    """Unix seconds → ISO 8601 in UTC with a `Z`."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


def callback_body(
    record: dict[str, Any], run: RunRecord, tasks: list[TaskRecord]
) -> dict[str, Any]:
    """What the receiver gets: the decision, its run's final status and each task's."""
    return {
        "decision_id": record["decision_id"],
        "run_id": run.id,
        "workflow": run.workflow,
        "status": str(run.status),
        "finished_at": iso_utc(run.finished_at),
        "delivery_id": record["delivery_id"],
        "tasks": {t.task_id: {"status": str(t.status), "attempts": t.attempts} for t in tasks},
    }


def encode(body: dict[str, Any]) -> bytes:
    """The exact bytes sent, and signed."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signature(payload: bytes, secret: str) -> str:
    """`sha256=<hex>`: HMAC-SHA256 of the body under the shared secret."""
    digest = hmac.new(secret.encode("utf-8"), payload, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def headers_for(payload: bytes, delivery_id: str, secret: str | None) -> dict[str, str]:
    """Request headers: JSON, the delivery id (the receiver's idempotency key), the signature."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "basir-l3-callback",
        DELIVERY_HEADER: delivery_id,
    }
    if secret:
        headers[SIGNATURE_HEADER] = signature(payload, secret)
    return headers


def retry_delay_s(tries_made: int, first_delay_s: float = FIRST_RETRY_DELAY_S) -> float:
    """Wait before the next try after `tries_made` failed ones: doubling, capped."""
    if tries_made <= 0:
        return 0.0
    return float(min(MAX_RETRY_DELAY_S, first_delay_s * 2 ** (tries_made - 1)))
