"""Fields the spec reads but Basir does not act on yet: checked, then refused (invariant 7).

Nothing accepted is ignored.  A field whose feature has not landed — `on.git` (roadmap 9),
`cache` (10) — is refused with the stable code `spec.unsupported` at its
`file:line:col`, saying so.  `resources` (of a task, of `defaults`) is admitted by the engine;
when a workflow is applied or run, every request is checked against the pools it would wait
for: a pool that does not exist (`spec.unknown_pool`; `cpu` and `memory` always exist) or an
amount above a pool's capacity (`spec.resource_too_large`) is an error then, never a task
that waits for ever.  So is a `queue:` (of a task, of `defaults`) that is not one of the
configured queues (`BASIR_QUEUES`): `spec.unknown_queue`.  `on.schedule` runs
in `basir server`; its crons (`spec.cron_invalid`) and time zones (`spec.timezone_invalid`)
are checked here, at their `file:line:col`.

The same rule covers keys that only some bodies read (`idle_body_keys`): `shell` on a task
that is not `run:` (or `uses:`), `isolate` off a `python:` task, `with` off `uses:` and
`workflow:` tasks would have no effect, so they are errors (`spec.invalid_value`).

All checks read the raw document, so they run next to the model's and are reported together;
`task_planned_keys` and `idle_body_keys` serve the other places a task comes from (templates,
PATCH /runs).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from basir.i18n import _
from basir.spec.cron import cron_problem, timezone_problem
from basir.spec.errors import FieldPath, IssueCode, SpecIssue
from basir.spec.loader import LoadedDocument
from basir.spec.model_errors import suggest
from basir.spec.models import BODY_KEYS, NAME_PATTERN

if TYPE_CHECKING:
    from basir.spec.templates import TemplateResolver

BUILTIN_POOLS = ("cpu", "memory", "disk")
PLANNED_TASK_KEYS = ("cache",)
# Keys read by some bodies only; `uses:` passes `shell` on to a file template's `run:`.
_BODY_ONLY_KEYS = {"shell": ("run", "uses"), "isolate": ("python",), "with": ("uses", "workflow")}


# Each message is built when asked for, so it is in the locale active at that moment.
_MESSAGES: dict[str, Callable[[], str]] = {
    "git": lambda: _("git triggers are not run yet (roadmap 9): remove on.git"),
    "cache": lambda: _("task caching is not built yet (roadmap 10): remove cache"),
}


def unsupported_message(key: str) -> str:
    """The localised "not supported yet" message of a planned field (`git`, `cache`)."""
    return _MESSAGES[key]()


def task_planned_keys(task: Mapping[str, Any]) -> list[str]:
    """The planned keys a task (a raw mapping) sets, in `PLANNED_TASK_KEYS` order."""
    return [key for key in PLANNED_TASK_KEYS if task.get(key) is not None]


def idle_body_keys(task: Mapping[str, Any], body: str | None = None) -> list[tuple[str, str]]:
    """`(key, localised message)` for each key this task's body would not read.

    Only for a task with exactly one body (`body`, found when not given; a task with none or
    two gets its own error); an empty or false value (`with: {}`, `isolate: false`) changes
    nothing and passes.
    """
    if task.keys().isdisjoint(_BODY_ONLY_KEYS):  # the common case: 10,000 tasks stay cheap
        return []
    present = [key for key in _BODY_ONLY_KEYS if task.get(key)]
    if body is None:
        bodies = [key for key in BODY_KEYS if task.get(key) is not None]
        if len(bodies) != 1:
            return []
        body = bodies[0]
    found: list[tuple[str, str]] = []
    for key in present:
        readers = _BODY_ONLY_KEYS[key]
        if key == "shell" and body == "uses":
            from basir.spec.templates import BUILTINS  # templates import this module

            if task["uses"] in BUILTINS:
                message = _(
                    "shell has no effect on the built-in {name}: it runs no shell",
                    name=task["uses"],
                )
                found.append((key, message))
            continue
        if body in readers:
            continue
        message = _(
            "{key} has no effect on a {body} task; only {readers} tasks read it",
            key=key,
            body=body,
            readers=", ".join(readers),
        )
        found.append((key, message))
    return found


def _tasks(doc: LoadedDocument) -> Iterator[tuple[int, dict[str, Any]]]:
    tasks = doc.get(("tasks",))
    if isinstance(tasks, list):
        for index, task in enumerate(tasks):
            if isinstance(task, dict):
                yield index, task


def schedule_issues(doc: LoadedDocument) -> list[SpecIssue]:
    """Every cron and time zone of `on.schedule` checked with cronsim and zoneinfo."""
    schedule = doc.get(("on", "schedule"))
    if schedule is None or schedule == []:
        return []
    issues: list[SpecIssue] = []
    for index, entry in enumerate(schedule if isinstance(schedule, list) else []):
        if not isinstance(entry, dict):
            continue
        path: FieldPath = ("on", "schedule", index)
        cron, zone = entry.get("cron"), entry.get("timezone")
        problem = cron_problem(cron) if isinstance(cron, str) else None
        if problem:
            issues.append(doc.issue(IssueCode.CRON_INVALID, problem, (*path, "cron")))
        problem = timezone_problem(zone) if isinstance(zone, str) else None
        if problem:
            issues.append(doc.issue(IssueCode.TIMEZONE_INVALID, problem, (*path, "timezone")))
    return issues


def _resource_blocks(doc: LoadedDocument) -> Iterator[tuple[FieldPath, str, dict[str, Any]]]:
    """`(path, who, resources)` of `defaults.resources` and of each task's `resources`."""
    defaults = doc.get(("defaults", "resources"))
    if isinstance(defaults, dict):
        yield ("defaults", "resources"), "defaults", defaults
    for index, task in _tasks(doc):
        resources = task.get("resources")
        if isinstance(resources, dict):
            task_id = task.get("id") if isinstance(task.get("id"), str) else f"#{index + 1}"
            yield ("tasks", index, "resources"), str(task_id), resources


def _amounts(resources: Mapping[str, Any]) -> Iterator[tuple[FieldPath, str, int]]:
    """`(path below resources, pool, amount)` of each well-formed amount.

    A malformed one is left to the model, which reports it at its place.
    """
    from basir.resources.fitting import CPU, DISK, MEMORY, MILLI
    from basir.spec.units import parse_size

    cpu = resources.get("cpu")
    if isinstance(cpu, int | float) and not isinstance(cpu, bool) and cpu > 0:
        yield (CPU,), CPU, max(1, round(cpu * MILLI))
    for pool in (MEMORY, DISK):
        value = resources.get(pool)
        size: int | None = None
        if value is not None:
            try:
                size = parse_size(value)
            except (ValueError, TypeError):
                size = None
        if size is not None:
            yield (pool,), pool, size
    pools = resources.get("pools")
    for name, slots in pools.items() if isinstance(pools, dict) else ():
        if isinstance(slots, int) and not isinstance(slots, bool) and slots > 0:
            yield ("pools", name), str(name), slots


def pool_issues(doc: LoadedDocument, pools: Mapping[str, float]) -> list[SpecIssue]:
    """Every resource request fits its pool on an idle machine, and every pool exists.

    `pools` are the configured custom pools (`Settings.pools`); `cpu` and `memory` are those
    this process may use (`resources.capacity`).  A request above capacity would wait for ever.
    """
    table = _PoolTable(pools)
    issues: list[SpecIssue] = []
    for base, who, resources in _resource_blocks(doc):
        for sub, pool, amount in _amounts(resources):
            issues.extend(table.check(doc, (*base, *sub), who, pool, amount))
    return issues


def template_pool_issues(
    doc: LoadedDocument, resolver: TemplateResolver, pools: Mapping[str, float]
) -> list[SpecIssue]:
    """The `resources` a task takes from its template (it has none of its own) fit too.

    Reported at the task's `uses:`, naming the template: the workflow's author chose it there.
    An unknown or invalid template is `template_issues`' to report.
    """
    from basir.resources.fitting import request_of
    from basir.spec.templates import TemplateError

    table = _PoolTable(pools)
    issues: list[SpecIssue] = []
    for index, task in _tasks(doc):
        uses = task.get("uses")
        if "resources" in task or not isinstance(uses, str):
            continue
        try:
            template = resolver.resolve(uses)
        except TemplateError:
            continue
        if template.task is None or template.task.resources is None:
            continue
        task_id = task.get("id") if isinstance(task.get("id"), str) else f"#{index + 1}"
        who = _("{task} (from template {template})", task=task_id, template=uses)
        for pool, amount in request_of(template.task.resources).items():
            issues.extend(table.check(doc, ("tasks", index, "uses"), who, pool, amount))
    return issues


class _PoolTable:
    """The pools a request is checked against: capacities and the names people may use."""

    def __init__(self, pools: Mapping[str, float]) -> None:
        from basir.resources.capacity import pool_capacities

        self.capacity = pool_capacities(pools)
        builtin = [name for name in BUILTIN_POOLS if name in self.capacity]  # disk: configured
        self.known = [*builtin, *(name for name in pools if name not in BUILTIN_POOLS)]

    def check(
        self, doc: LoadedDocument, path: FieldPath, who: str, pool: str, amount: int
    ) -> list[SpecIssue]:
        """The issue of one amount of one pool, if it could never fit (none if it can)."""
        from basir.resources.fitting import show_amount

        if pool not in self.capacity:
            message = _(
                "task {task} asks for pool {pool}, which does not exist; pools: {pools}"
                " (custom pools are set with BASIR_POOLS or basir resources pool set)",
                task=who,
                pool=pool,
                pools=", ".join(self.known),
            ) + suggest(pool, self.known)
            return [doc.issue(IssueCode.UNKNOWN_POOL, message, path)]
        if amount > self.capacity[pool]:
            message = _(
                "task {task} asks for {amount} of pool {pool}, whose capacity is {capacity};"
                " it could never start",
                task=who,
                amount=show_amount(pool, amount),
                pool=pool,
                capacity=show_amount(pool, self.capacity[pool]),
            )
            return [doc.issue(IssueCode.RESOURCE_TOO_LARGE, message, path)]
        return []


def queue_issues(doc: LoadedDocument, queues: Collection[str]) -> list[SpecIssue]:
    """Every `queue:` (of `defaults`, of each task) names a configured queue.

    A task in a queue that does not exist would wait for ever: `spec.unknown_queue`.
    """
    places: list[tuple[FieldPath, object]] = [
        (("defaults", "queue"), doc.get(("defaults", "queue")))
    ]
    places.extend((("tasks", index, "queue"), task.get("queue")) for index, task in _tasks(doc))
    issues: list[SpecIssue] = []
    for path, name in places:
        if isinstance(name, str) and re.fullmatch(NAME_PATTERN, name) and name not in queues:
            message = _(
                "queue {queue} does not exist; queues: {queues} (queues are set with BASIR_QUEUES)",
                queue=name,
                queues=", ".join(sorted(queues)) or "-",
            ) + suggest(name, list(queues))
            issues.append(doc.issue(IssueCode.UNKNOWN_QUEUE, message, path))
    return issues


def planned_issues(
    doc: LoadedDocument,
    pools: Mapping[str, float] | None = None,
    queues: Collection[str] | None = None,
) -> list[SpecIssue]:
    """Every planned field the document sets, refused; resource requests and queues checked.

    `pools` (the configured custom pools) and `queues` (the configured queue names) are given
    when a workflow is applied or run; a file validated on its own (`basir validate`) does not
    know the server's pools, queues or machine.
    """
    issues = schedule_issues(doc)
    if doc.get(("on", "git")) is not None:
        git = unsupported_message("git")
        issues.append(doc.issue(IssueCode.UNSUPPORTED, git, ("on", "git")))
    if queues is not None:
        issues.extend(queue_issues(doc, queues))
    any_resources = doc.get(("defaults", "resources")) is not None
    for index, task in _tasks(doc):
        any_resources = any_resources or "resources" in task
        if task.keys().isdisjoint(PLANNED_TASK_KEYS):
            continue
        for key in task_planned_keys(task):
            message = unsupported_message(key)
            issues.append(doc.issue(IssueCode.UNSUPPORTED, message, ("tasks", index, key)))
    if pools is not None and any_resources:
        issues.extend(pool_issues(doc, pools))
    return issues
