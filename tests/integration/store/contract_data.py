"""Records and writes the store contract tests share."""

from __future__ import annotations

from typing import Any

from basir.store.base import Store
from basir.store.records import Batch, EventRecord, RunInsert, RunRecord, TaskRecord, TaskUpdate

SPEC = {"name": "ci", "description": {"en": "Build", "ar": "بناء التطبيق"}, "tasks": [{"id": "a"}]}


def make_run(run_id: str = "r1", *, created_at: float = 100.0, **kw: Any) -> RunRecord:
    return RunRecord(
        id=run_id,
        workflow=kw.pop("workflow", "ci"),
        version=1,
        status=kw.pop("status", "queued"),
        created_at=created_at,
        updated_at=created_at,
        **kw,
    )


def make_tasks(run_id: str, *task_ids: str) -> list[TaskRecord]:
    return [TaskRecord(run_id, t, "pending") for t in task_ids]


def event(kind: str, subject: str = "r1", run_id: str | None = "r1", **kw: Any) -> EventRecord:
    return EventRecord(type=kind, subject=subject, time=kw.pop("time", 1.5), run_id=run_id, **kw)


async def insert_run(store: Store, run_id: str = "r1", *task_ids: str, **kw: Any) -> None:
    tasks = make_tasks(run_id, *(task_ids or ("a", "b", "c")))
    await store.write(Batch([RunInsert(make_run(run_id, **kw), tasks)], [event("run.created")]))


def move(run_id: str, task_id: str, to: str, *from_: str, **fields: Any) -> TaskUpdate:
    return TaskUpdate(run_id, task_id, {"status": to, **fields}, from_ or None)


async def statuses(store: Store, run_id: str = "r1") -> dict[str, str]:
    return {t.task_id: t.status for t in await store.get_tasks(run_id)}
