"""A run whose tasks could never start is refused, not left waiting for ever.

A version was checked against the pools when it was applied, but it may no longer fit when it
is run: a capacity lowered since, a custom pool gone.  And a namespace's quota may allow less
cpu or memory at once than one task needs alone.  Each task's request — its own `resources`,
else its template's, else `defaults.resources`, as admission reads it — is checked against
both; every problem is located (`field`, `message`, `code`) as apply and PATCH report them:
`spec.unknown_pool`, `spec.resource_too_large`, `spec.quota_too_small`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from basir.errors import BasirError
from basir.i18n import ngettext
from basir.spec.models import Resources, Task, WorkflowSpec

if TYPE_CHECKING:
    from basir.engine.runtime import Engine
    from basir.engine.state import RunState
    from basir.resources.quotas import Quota
    from basir.spec.templates import TemplateResolver

Problem = dict[str, Any]


def _template_resources(templates: TemplateResolver, name: str) -> Resources | None:
    from basir.spec.templates import TemplateError

    try:
        body = templates.resolve(name).task
    except TemplateError:
        return None  # an unknown template is reported when the body is rendered
    return None if body is None else body.resources


def effective_tasks(spec: WorkflowSpec, templates: TemplateResolver) -> list[Task]:
    """The tasks with the `resources` admission will read for them (own, template, default).

    A task that takes its template's keeps none of its own: the problem is then reported at
    its `uses:`, naming the template.
    """
    defaults = spec.defaults.resources
    tasks: list[Task] = []
    for task in spec.tasks:
        takes_default = defaults is not None and task.resources is None
        if takes_default and (
            task.uses is None or _template_resources(templates, task.uses) is None
        ):
            tasks.append(task.model_copy(update={"resources": defaults}))
        else:
            tasks.append(task)
    return tasks


def fit_problems(
    spec: WorkflowSpec,
    capacity: Mapping[str, int],
    templates: TemplateResolver,
    quota: Quota | None = None,
) -> list[Problem]:
    """What of `spec` could never start under `capacity` (whole amounts per pool) and `quota`
    (empty: every task can)."""
    from basir.spec.patch import quota_problems, resource_problems

    tasks = effective_tasks(spec, templates)
    found = resource_problems(tasks, capacity, templates)
    return found + quota_problems(tasks, quota, templates)


def unfit_error(problems: list[Problem]) -> BasirError:
    """`spec.invalid` (422, CLI exit 2) listing the problems, as apply reports them."""
    message = ngettext(
        "the workflow has {count} problem", "the workflow has {count} problems", len(problems)
    )
    return BasirError("spec.invalid", message, details=problems)


def refuse_unfit(engine: Engine, spec: WorkflowSpec) -> None:
    """Raise `spec.invalid` when a task of `spec` could never start on this engine now."""
    if not _asks_for_resources(spec):
        return  # the common case costs nothing: no request can be too large
    admission = engine.flow.admission
    quota = admission.governor.quotas.get(spec.namespace)
    capacity, templates = admission.allocator.capacity, engine.renderer.templates
    if not _any_unfit(spec, capacity, templates, quota):
        return  # the located report below is built only when there is something to report
    problems = fit_problems(spec, capacity, templates, quota)
    if problems:
        raise unfit_error(problems)


def _any_unfit(
    spec: WorkflowSpec,
    capacity: Mapping[str, int],
    templates: TemplateResolver,
    quota: Quota | None,
) -> bool:
    """Whether some task's request could never start; each distinct request checked once
    (tasks sharing `defaults.resources` or a template's share one)."""
    from basir.resources.fitting import CPU, MEMORY, never_fits, request_of

    limits = {} if quota is None else {CPU: quota.cpu, MEMORY: quota.memory}
    seen: set[int] = set()
    defaults = spec.defaults.resources
    for task in spec.tasks:
        resources = task.resources
        if resources is None and task.uses is not None:
            resources = _template_resources(templates, task.uses)
        resources = resources if resources is not None else defaults
        if resources is None or id(resources) in seen:
            continue
        seen.add(id(resources))
        request = request_of(resources)
        over = [p for p, limit in limits.items() if limit is not None and request.get(p, 0) > limit]
        if over or never_fits(request, capacity):
            return True
    return False


def _asks_for_resources(spec: WorkflowSpec) -> bool:
    return spec.defaults.resources is not None or any(
        task.resources is not None or task.uses is not None for task in spec.tasks
    )


def spec_quota_problems(
    spec: WorkflowSpec, quota: Quota | None, templates: TemplateResolver
) -> list[Problem]:
    """At apply: the tasks the namespace's quota, when one is set, could never let start."""
    from basir.spec.patch import quota_problems

    if quota is None or not _asks_for_resources(spec):
        return []
    return quota_problems(effective_tasks(spec, templates), quota, templates)


async def stored_quota(store: Any, namespace: str) -> Quota | None:
    """The namespace's stored quota (None: unlimited), for a CLI that runs no engine yet."""
    from basir.resources import policy_store

    found = [q for q in await policy_store.quotas(store) if q.namespace == namespace]
    return found[0] if found else None


def added_tasks(engine: Engine, run: RunState, raw: list[dict[str, Any]]) -> list[Task]:
    """Tasks to add to a live run, every check of `parse_added_tasks` passed: each must fit the
    engine's pools and its namespace's quota (`run.invalid_patch` otherwise)."""
    from basir.spec.patch import parse_added_tasks

    admission = engine.flow.admission
    quota = admission.governor.quotas.get(run.spec.namespace)
    return parse_added_tasks(
        run.tasks, raw, admission.allocator.capacity, admission.queues, admission.templates, quota
    )
