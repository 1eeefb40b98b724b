"""Fields the spec reads but Basir does not act on yet: checked, then refused (invariant 7).

Nothing accepted is ignored.  A field whose feature has not landed — `on.git` (roadmap 9),
`queue` (3), `resources` (4), `cache` (10) — is refused with the stable code
`spec.unsupported` at its `file:line:col`, saying so.  What can be checked already is
checked first, so the error that will remain once the feature lands is reported today too:
when a workflow is applied or run, every pool named in `resources.pools` against the
configured pools (`spec.unknown_pool`; `cpu` and `memory` always exist).  `on.schedule` runs
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

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from basir.i18n import _
from basir.spec.cron import cron_problem, timezone_problem
from basir.spec.errors import FieldPath, IssueCode, SpecIssue
from basir.spec.loader import LoadedDocument
from basir.spec.model_errors import suggest
from basir.spec.models import BODY_KEYS

BUILTIN_POOLS = ("cpu", "memory")
PLANNED_TASK_KEYS = ("resources", "queue", "cache")
# Keys read by some bodies only; `uses:` passes `shell` on to a file template's `run:`.
_BODY_ONLY_KEYS = {"shell": ("run", "uses"), "isolate": ("python",), "with": ("uses", "workflow")}


# Each message is built when asked for, so it is in the locale active at that moment.
_MESSAGES: dict[str, Callable[[], str]] = {
    "git": lambda: _("git triggers are not run yet (roadmap 9): remove on.git"),
    "queue": lambda: _(
        "queues are not built yet (roadmap 3): remove queue; every task shares one queue"
    ),
    "resources": lambda: _(
        "resource admission is not built yet (roadmap 4): remove resources; tasks start"
        " without reserving cpu, memory or pool slots"
    ),
    "cache": lambda: _("task caching is not built yet (roadmap 10): remove cache"),
}


def unsupported_message(key: str) -> str:
    """The localised "not supported yet" message of a planned field (`schedule`, `resources`…)."""
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


def pool_issues(doc: LoadedDocument, pools: Mapping[str, int]) -> list[SpecIssue]:
    """Each pool named in a task's `resources.pools` exists: `cpu`, `memory` or configured."""
    known = [*BUILTIN_POOLS, *pools]
    shown = ", ".join(known)
    issues: list[SpecIssue] = []
    for index, task in _tasks(doc):
        resources = task.get("resources")
        wanted = resources.get("pools") if isinstance(resources, dict) else None
        if not isinstance(wanted, dict):
            continue
        task_id = task.get("id") if isinstance(task.get("id"), str) else f"#{index + 1}"
        for name in wanted:
            if name in known:
                continue
            message = _(
                "task {task} asks for pool {pool}, which does not exist; pools: {pools}"
                " (custom pools are set with BASIR_POOLS)",
                task=task_id,
                pool=name,
                pools=shown,
            ) + suggest(str(name), known)
            path: FieldPath = ("tasks", index, "resources", "pools", name)
            issues.append(doc.issue(IssueCode.UNKNOWN_POOL, message, path))
    return issues


def planned_issues(doc: LoadedDocument, pools: Mapping[str, int] | None = None) -> list[SpecIssue]:
    """Every planned field the document sets, refused; checks that can run already, run.

    `pools` (the configured custom pools) is given when a workflow is applied or run; a file
    validated on its own (`basir validate`) does not know the server's pools.
    """
    issues = schedule_issues(doc)
    if doc.get(("on", "git")) is not None:
        git = unsupported_message("git")
        issues.append(doc.issue(IssueCode.UNSUPPORTED, git, ("on", "git")))
    if doc.get(("defaults", "queue")) is not None:
        queue = unsupported_message("queue")
        issues.append(doc.issue(IssueCode.UNSUPPORTED, queue, ("defaults", "queue")))
    any_resources = False
    for index, task in _tasks(doc):
        if task.keys().isdisjoint(PLANNED_TASK_KEYS):
            continue
        any_resources = any_resources or "resources" in task
        for key in task_planned_keys(task):
            message = unsupported_message(key)
            issues.append(doc.issue(IssueCode.UNSUPPORTED, message, ("tasks", index, key)))
    if pools is not None and any_resources:
        issues.extend(pool_issues(doc, pools))
    return issues
