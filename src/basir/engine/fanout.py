"""Fan-out: a `foreach` task becomes one instance per item, each queued on its own.

Instances are reported as `<id>[0]`, `<id>[1]`, …; a retried run re-queues the instances
that did not succeed instead of evaluating the items again.  At most `MAX_FOREACH_ITEMS`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from basir.engine.journal import exception_text
from basir.engine.state import RunState, TaskState
from basir.i18n.deferred import defer
from basir.states import TaskStatus
from basir.store.records import TaskRecord

if TYPE_CHECKING:
    from basir.engine.flow import Flow

MAX_FOREACH_ITEMS = 10_000


def expand(flow: Flow, run: RunState, parent: TaskState) -> None:
    """Fan a `foreach` task out into one instance per item (reusing earlier instances)."""
    now = time.time()
    journal = flow.journal
    if parent.instances:  # a retried run: re-queue the instances that did not succeed
        journal.task_to(run, parent, TaskStatus.QUEUED, queued_at=now)
        journal.task_to(run, parent, TaskStatus.RUNNING, started_at=now)
        for instance_id in parent.instances:
            instance = run.tasks[instance_id]
            if instance.status == TaskStatus.PENDING:
                flow.queue(run, instance)
        flow.settle_parent(run, parent)
        return
    try:
        items = flow.renderer.foreach_items(parent.spec.foreach, run, parent)
    except Exception as exc:
        flow.finish_task(run, parent, TaskStatus.FAILED, error=exception_text(exc))
        return
    if len(items) > MAX_FOREACH_ITEMS:
        message = defer(
            "foreach produced {count} items; the limit is {limit}",
            count=len(items),
            limit=MAX_FOREACH_ITEMS,
        )
        flow.finish_task(run, parent, TaskStatus.FAILED, error=message)
        return
    journal.task_to(run, parent, TaskStatus.QUEUED, queued_at=now)
    journal.task_to(run, parent, TaskStatus.RUNNING, started_at=now, data={"instances": len(items)})
    instance_spec = parent.spec.model_copy(update={"foreach": None})
    for index, item in enumerate(items):
        instance = TaskState(
            id=f"{parent.id}[{index}]",
            spec=instance_spec,
            status=TaskStatus.PENDING,
            seq=run.next_seq,
            parent=parent.id,
            index=index,
            item=item,
        )
        run.add(instance)
        parent.instances.append(instance.id)
        journal.insert_row(
            TaskRecord(
                run_id=run.id,
                task_id=instance.id,
                status=TaskStatus.PENDING,
                updated_at=now,
                parent_id=parent.id,
                item_index=index,
                item=item,
            )
        )
        flow.queue(run, instance)
    flow.settle_parent(run, parent)
