"""The store: the single source of truth under every other package.

`open_store(url)` picks the implementation by URL scheme (`memory://`, `sqlite:///path`,
`postgresql://…`); all of them implement the `Store` protocol of `store.base` and pass the
same contract suite.  Importing this package opens nothing and imports no database driver.
"""

from __future__ import annotations

from basir.store.base import ConflictError, NotFoundError, Store, StoreError
from basir.store.factory import open_store
from basir.store.records import (
    Batch,
    EventRecord,
    Page,
    RunInsert,
    RunRecord,
    RunUpdate,
    TaskInsert,
    TaskRecord,
    TaskUpdate,
    WorkflowVersion,
)

__all__ = [
    "Batch",
    "ConflictError",
    "EventRecord",
    "NotFoundError",
    "Page",
    "RunInsert",
    "RunRecord",
    "RunUpdate",
    "Store",
    "StoreError",
    "TaskInsert",
    "TaskRecord",
    "TaskUpdate",
    "WorkflowVersion",
    "open_store",
]
