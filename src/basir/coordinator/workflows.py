"""Applying a workflow spec: validated, checked against the store, stored as a new version."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from basir.spec.models import WorkflowSpec
from basir.store.base import Store
from basir.store.records import WorkflowVersion


def canonical_spec(spec: WorkflowSpec) -> dict[str, Any]:
    """The stored JSON form of a spec: by alias, without defaults, so it round-trips."""
    return spec.model_dump(mode="json", by_alias=True, exclude_defaults=True)


def spec_hash(document: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON: equal specs get equal hashes whatever the key order."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


async def apply_workflow(
    store: Store, spec: WorkflowSpec, created_by: str | None = None
) -> tuple[WorkflowVersion, bool]:
    """Store `spec` as the next version of its workflow unless it is unchanged.

    Its `on.schedule` entries are registered, changed or removed with it (a running server
    reads them at its next tick).  Returns the (new or latest) version and whether a new
    version was created.
    """
    document = canonical_spec(spec)
    stored = await store.put_workflow(
        spec.name, spec.namespace, document, spec_hash(document), created_by
    )
    await register_schedules(store, spec)
    return stored


async def register_schedules(store: Store, spec: WorkflowSpec) -> None:
    """Make the workflow's `on.schedule` its stored schedules (added, changed, removed)."""
    records = []
    if spec.on is not None and spec.on.schedule:  # the scheduler's code only when needed
        from basir.coordinator.schedules import schedule_records

        records = schedule_records(spec, time.time())
    await store.sync_schedules(spec.name, records)
