"""A run's DAG as plain nodes and edges for the browser (which lays it out with dagre).

Edges come from each task's `needs` in the pinned spec (or the task's own spec for tasks added
later); a `foreach` instance hangs off the task it was expanded from.  Pure: records in, data out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from basir.i18n import state_label
from basir.store.records import TaskRecord


def _needs(spec: Mapping[str, Any] | None) -> list[str]:
    if not spec:
        return []
    needs = spec.get("needs") or []
    return [needs] if isinstance(needs, str) else [str(n) for n in needs]


def graph_of(workflow_spec: Mapping[str, Any], tasks: Iterable[TaskRecord]) -> dict[str, Any]:
    """`{nodes: [{id, status, label, parent?}], edges: [[from, to], ...]}` for one run.

    A `foreach` instance names its `parent`, so the browser can collapse the instances of a
    big fan-out into one group node (expanded on demand).
    """
    declared = {
        str(t.get("id")): t for t in workflow_spec.get("tasks") or () if isinstance(t, Mapping)
    }
    rows = list(tasks)
    present = {task.task_id for task in rows}
    nodes = []
    edges: list[list[str]] = []
    for task in rows:
        node = {"id": task.task_id, "status": str(task.status), "label": state_label(task.status)}
        nodes.append(node)
        if task.parent_id is not None and task.parent_id in present:
            node["parent"] = task.parent_id
            edges.append([task.parent_id, task.task_id])
            continue
        for need in _needs(task.spec or declared.get(task.task_id)):
            if need in present:
                edges.append([need, task.task_id])
    return {"nodes": nodes, "edges": edges}
