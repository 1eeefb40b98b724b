"""Applying a workflow spec: validated, checked against the store, stored as a new version."""

from __future__ import annotations

import hashlib
import json
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

    Returns the (new or latest) version and whether a new version was created.
    """
    document = canonical_spec(spec)
    return await store.put_workflow(
        spec.name, spec.namespace, document, spec_hash(document), created_by
    )
