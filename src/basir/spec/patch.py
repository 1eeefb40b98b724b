"""Tasks added to a live run (`PATCH /api/v1/runs/{id}`, `Engine.add_tasks`): one check for both.

The API refuses a body whose tasks do not fit the spec's task schema before it reaches the
engine; the engine checks schema and graph again against the run as it stands when it adds
them.  Problems are `{field, message}` items (plus a finer `code` where the spec has one),
located from the patch's `tasks` list: `tasks[1].needs`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from basir.errors import BasirError
from basir.i18n import _
from basir.spec.dag import find_cycle
from basir.spec.errors import IssueCode, SpecValueError, format_path
from basir.spec.models import MAX_TASKS, Resources, Task
from basir.spec.planned import idle_body_keys, task_planned_keys, unsupported_message
from basir.spec.pydantic_messages import error_message

if TYPE_CHECKING:
    from basir.resources.quotas import Quota
    from basir.spec.templates import TemplateResolver

Problem = dict[str, Any]


def _items(index: int, exc: ValidationError) -> list[Problem]:
    items: list[Problem] = []
    for error in exc.errors():
        where = ("tasks", index, *error["loc"])
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, SpecValueError):
            field = format_path((*where, *cause.at))
            items.append({"field": field, "message": cause.message, "code": cause.code})
        else:
            items.append({"field": format_path(where), "message": error_message(error)})
    return items


def schema_problems(raw: Sequence[Any]) -> tuple[list[Task], list[Problem]]:
    """Each added task parsed with the spec's `Task` schema, and the problems of those that fail."""
    parsed: list[Task] = []
    problems: list[Problem] = []
    for index, item in enumerate(raw):
        try:
            parsed.append(Task.model_validate(item))
        except ValidationError as exc:
            problems.extend(_items(index, exc))
        if isinstance(item, Mapping):
            problems.extend(_refused_keys(index, item))
    return parsed, problems


def _refused_keys(index: int, task: Mapping[str, Any]) -> list[Problem]:
    """Keys the task sets that would be ignored: planned fields, keys its body never reads."""
    refused: list[Problem] = [
        {
            "field": format_path(("tasks", index, key)),
            "message": unsupported_message(key),
            "code": IssueCode.UNSUPPORTED.value,
        }
        for key in task_planned_keys(task)
    ]
    refused.extend(
        {
            "field": format_path(("tasks", index, key)),
            "message": message,
            "code": IssueCode.INVALID_VALUE.value,
        }
        for key, message in idle_body_keys(task)
    )
    return refused


def graph_problems(existing: Collection[str], parsed: Sequence[Task]) -> list[Problem]:
    """New ids must be new, `needs` must name known tasks, and no cycle may appear."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for index, task in enumerate(parsed):
        if task.id in existing or task.id in seen:
            message = _("a task named {task_id} already exists", task_id=task.id)
            problems.append({"field": f"tasks[{index}].id", "message": message})
        seen.add(task.id)
    for index, task in enumerate(parsed):
        for need in task.needs:
            if need not in existing and need not in seen:
                message = _("unknown task {task_id} in needs", task_id=need)
                problems.append({"field": f"tasks[{index}].needs", "message": message})
    cycle = find_cycle({task.id: [n for n in task.needs if n in seen] for task in parsed})
    if cycle:
        message = _("the tasks form a cycle: {cycle}", cycle=" → ".join(cycle))
        problems.append({"field": "tasks", "message": message})
    return problems


def resource_problems(
    parsed: Sequence[Task], capacity: Mapping[str, int], templates: TemplateResolver | None = None
) -> list[Problem]:
    """Each task's `resources` fits `capacity` (whole amounts) on an idle machine.

    A pool that does not exist is `spec.unknown_pool`, more than its capacity
    `spec.resource_too_large`: such a task would wait for ever.  With `templates`, a task
    without `resources` of its own is checked with its template's, at its `uses`.
    """
    from basir.resources.fitting import never_fits, request_of, show_amount

    problems: list[Problem] = []
    for index, task in enumerate(parsed):
        resources, who = task.resources, task.id
        if resources is None and task.uses is not None and templates is not None:
            resources = _template_resources(templates, task.uses)
            who = _("{task} (from template {template})", task=who, template=task.uses)
        for short in never_fits(request_of(resources), capacity):
            builtin = short.pool in ("cpu", "memory", "disk")
            where = (short.pool,) if builtin else ("pools", short.pool)
            path = ("uses",) if task.resources is None else ("resources", *where)
            field = format_path(("tasks", index, *path))
            if short.capacity == 0 and short.pool not in capacity:
                message = _(
                    "task {task} asks for pool {pool}, which does not exist; pools: {pools}"
                    " (custom pools are set with BASIR_POOLS or basir resources pool set)",
                    task=who,
                    pool=short.pool,
                    pools=", ".join(sorted(capacity)),
                )
                code = IssueCode.UNKNOWN_POOL.value
            else:
                message = _(
                    "task {task} asks for {amount} of pool {pool}, whose capacity is {capacity};"
                    " it could never start",
                    task=who,
                    amount=show_amount(short.pool, short.wanted),
                    pool=short.pool,
                    capacity=show_amount(short.pool, short.capacity),
                )
                code = IssueCode.RESOURCE_TOO_LARGE.value
            problems.append({"field": field, "message": message, "code": code})
    return problems


def quota_problems(
    tasks: Sequence[Task], quota: Quota | None, templates: TemplateResolver | None
) -> list[Problem]:
    """Tasks needing more cpu or memory than their namespace's quota allows at once: they
    could never start (`spec.quota_too_small`); with `templates`, a task without `resources`
    of its own is checked with its template's, at its `uses`."""
    from basir.resources.fitting import CPU, MEMORY, request_of, show_amount

    if quota is None or (quota.cpu is None and quota.memory is None):
        return []
    problems: list[Problem] = []
    for index, task in enumerate(tasks):
        resources, who, where = task.resources, task.id, None
        if resources is None and task.uses is not None and templates is not None:
            resources, where = _template_resources(templates, task.uses), ("uses",)
            who = _("{task} (from template {template})", task=who, template=task.uses)
        request = request_of(resources)
        for pool, limit in ((CPU, quota.cpu), (MEMORY, quota.memory)):
            wanted = request.get(pool, 0)
            if limit is None or wanted <= limit:
                continue
            message = _(
                "task {task} asks for {wanted} of {pool}, more than the quota of namespace {ns}"
                " allows at once ({limit}); it could never start: raise the quota with basir"
                " resources quota set, or ask for less",
                task=who,
                wanted=show_amount(pool, wanted),
                pool=pool,
                ns=quota.namespace,
                limit=show_amount(pool, limit),
            )
            field = format_path(("tasks", index, *(where or ("resources", pool))))
            code = IssueCode.QUOTA_TOO_SMALL.value
            problems.append({"field": field, "message": message, "code": code})
    return problems


def queue_problems(raw: Sequence[Any], queues: Collection[str]) -> list[Problem]:
    """Each task's `queue` (a raw item's, so the index is the request's) is one of `queues`:
    `spec.unknown_queue` otherwise."""
    problems: list[Problem] = []
    for index, item in enumerate(raw):
        queue = item.get("queue") if isinstance(item, Mapping) else None
        if isinstance(queue, str) and queue not in queues:
            message = _(
                "queue {queue} does not exist; queues: {queues} (queues are set with BASIR_QUEUES)",
                queue=queue,
                queues=", ".join(sorted(queues)) or "-",
            )
            field = format_path(("tasks", index, "queue"))
            problems.append({"field": field, "message": message, "code": "spec.unknown_queue"})
    return problems


def _template_resources(templates: TemplateResolver, name: str) -> Resources | None:
    """A template's `resources`, None when it has none (or is unknown: reported elsewhere)."""
    from basir.spec.templates import TemplateError

    try:
        body = templates.resolve(name).task
    except TemplateError:
        return None
    return None if body is None else body.resources


def parse_added_tasks(
    existing: Collection[str],
    raw: Sequence[Any],
    capacity: Mapping[str, int] | None = None,
    queues: Collection[str] | None = None,
    templates: TemplateResolver | None = None,
    quota: Quota | None = None,
) -> list[Task]:
    """The tasks to add to a run whose task ids are `existing`, every check passed.

    With `capacity` (the engine's pools), each task's `resources` must be able to fit, and
    within `quota` (its namespace's); with `queues` (the configured queue names), each
    `queue` must be one of them.
    Raises `BasirError` `run.invalid_patch` listing every problem at once.
    """
    problems: list[Problem] = []
    if not raw:
        problems.append({"field": "tasks", "message": _("give at least one task to add")})
    if len(existing) + len(raw) > MAX_TASKS:
        problems.append(
            {"field": "tasks", "message": _("a run holds at most {limit} tasks", limit=MAX_TASKS)}
        )
    parsed, invalid = schema_problems(raw)
    problems.extend(invalid)
    problems.extend(graph_problems(existing, parsed))
    if capacity is not None:
        problems.extend(resource_problems(parsed, capacity, templates))
    problems.extend(quota_problems(parsed, quota, templates))
    if queues is not None:
        problems.extend(queue_problems(raw, queues))
    if problems:
        raise BasirError(
            "run.invalid_patch", _("the tasks cannot be added to the run"), details=problems
        )
    return parsed
