"""Whole-workflow validation and the public entry points `load_workflow` / `load_workflow_file`.

On top of the model's shape checks: duplicate task ids, unknown and self `needs` (with a
"did you mean"), cycles (named: `a → b → c → a`, read "a needs b needs c needs a"), every
`${{ … }}` parses and reads only what exists at its place, and `uses:` templates exist and get
valid `with:` inputs.  All checks run on the raw data too, so one run reports every problem,
even when the model itself rejected part of the file.  Fields whose feature has not landed
(`on.schedule`, `on.git`, `resources`, `queue`, `cache`) are refused by `spec.planned`, after
what can be checked already (crons, time zones, and pool names when `pools` is given: a
workflow being applied or run is checked against the configured pools, a file on its own is
not).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from basir.i18n import _
from basir.spec.dag import Upstream, find_cycles
from basir.spec.errors import FieldPath, IssueCode, SpecError, SpecIssue, finish_issues
from basir.spec.expr_checks import TASK_ROOTS, WORKFLOW_ROOTS, Scope, check_value, run_issues
from basir.spec.loader import MAX_SPEC_BYTES, LoadedDocument, parse_document
from basir.spec.model_errors import issues_from_validation, suggest
from basir.spec.models import BODY_KEYS, MAX_TASKS, TEMPLATE_REF_PATTERN, WorkflowSpec
from basir.spec.planned import idle_body_keys, planned_issues, template_pool_issues
from basir.spec.templates import TemplateResolver, uses_issues
from basir.spec.values import check_value as value_problem

# Task keys that never hold expressions (ids, names, enums, references).
_PLAIN_TASK_KEYS = frozenset({"id", "name", "needs", "when", "uses", "python", "workflow", "queue"})


def _tasks(doc: LoadedDocument) -> list[tuple[int, dict[str, Any]]]:
    tasks = doc.get(("tasks",))
    if not isinstance(tasks, list):
        return []
    return [(index, task) for index, task in enumerate(tasks) if isinstance(task, dict)]


def _needs(task: dict[str, Any], index: int) -> list[tuple[FieldPath, str]]:
    needs = task.get("needs")
    if isinstance(needs, str):
        return [(("tasks", index, "needs"), needs)]
    if isinstance(needs, list):
        return [
            (("tasks", index, "needs", position), need)
            for position, need in enumerate(needs)
            if isinstance(need, str)
        ]
    return []


def body_issues(doc: LoadedDocument) -> list[SpecIssue]:
    """One body per task, checked on the raw data so it is reported next to other problems.

    Messages match the model's, so the duplicates that both produce collapse into one.
    """
    issues: list[SpecIssue] = []
    for index, task in _tasks(doc):
        bodies = [key for key in BODY_KEYS if task.get(key) is not None]
        if len(bodies) > 1:
            message = _("a task has exactly one body, found: {bodies}", bodies=", ".join(bodies))
            path: FieldPath = ("tasks", index, bodies[1])
            issues.append(doc.issue(IssueCode.TWO_BODIES, message, path))
        elif not bodies:
            message = _("a task needs a body: run, python, http, uses or workflow")
            issues.append(doc.issue(IssueCode.NO_BODY, message, ("tasks", index)))
        else:
            for key, message in idle_body_keys(task, bodies[0]):
                issues.append(doc.issue(IssueCode.INVALID_VALUE, message, ("tasks", index, key)))
    return issues


def graph_issues(doc: LoadedDocument) -> tuple[list[SpecIssue], dict[str, list[str]], bool]:
    """Issues of the task graph, the graph itself ({id: known needs}) and whether it is acyclic."""
    issues: list[SpecIssue] = []
    first: dict[str, int] = {}
    for index, task in _tasks(doc):
        task_id = task.get("id")
        if not isinstance(task_id, str):
            continue
        if task_id in first:
            line, _col = doc.locate(("tasks", first[task_id], "id"))
            message = _("duplicate task id {id} (first at line {line})", id=task_id, line=line)
            issues.append(doc.issue(IssueCode.DUPLICATE_TASK, message, ("tasks", index, "id")))
        else:
            first[task_id] = index
    graph: dict[str, list[str]] = {task_id: [] for task_id in first}
    need_paths: dict[tuple[str, str], FieldPath] = {}
    for index, task in _tasks(doc):
        task_id = task.get("id")
        owner = task_id if isinstance(task_id, str) and first.get(task_id) == index else None
        for path, need in _needs(task, index):
            if need == task_id:
                message = _("task {id} needs itself", id=need)
                issues.append(doc.issue(IssueCode.SELF_NEED, message, path))
            elif need not in first:
                message = _("unknown task {name} in needs", name=need) + suggest(need, first)
                issues.append(doc.issue(IssueCode.UNKNOWN_NEED, message, path))
            elif owner is not None:
                graph[owner].append(need)
                need_paths.setdefault((owner, need), path)
    cycles = find_cycles(graph)
    for cycle in cycles:
        message = _("cycle in needs: {cycle}", cycle=" → ".join(cycle))
        issues.append(doc.issue(IssueCode.CYCLE, message, need_paths[(cycle[0], cycle[1])]))
    return issues, graph, not cycles


def expression_issues(
    doc: LoadedDocument, graph: dict[str, list[str]], acyclic: bool
) -> list[SpecIssue]:
    """Check every `${{ … }}` of the workflow and its tasks against what each place can read."""
    params = doc.get(("params",))
    known = {"params": set(params) if isinstance(params, dict) else set(), "tasks": set(graph)}
    issues: list[SpecIssue] = []
    top = Scope(WORKFLOW_ROOTS, {"params": known["params"]})
    for key in ("env", "defaults", "concurrency_key"):
        issues.extend(check_value(doc, (key,), doc.get((key,)), top))
    upstream = Upstream(graph) if acyclic else None
    for index, task in _tasks(doc):
        task_id = task.get("id") if isinstance(task.get("id"), str) else None
        check = None
        if upstream is not None and task_id is not None:
            check = functools.partial(upstream.includes, task_id)
        plain = Scope(TASK_ROOTS, known, task_id, check)
        looped = Scope(TASK_ROOTS | {"item", "index"}, known, task_id, check)
        for key, value in task.items():
            if key in _PLAIN_TASK_KEYS:
                continue
            scope = looped if "foreach" in task and key != "foreach" else plain
            issues.extend(check_value(doc, ("tasks", index, key), value, scope, bare=key == "if"))
        issues.extend(run_issues(doc, ("tasks", index), task))
    return issues


def default_issues(doc: LoadedDocument, spec: WorkflowSpec) -> list[SpecIssue]:
    """Every parameter's default fits its own `type` and `enum` (`default: true` is no
    integer): a run without the parameter would otherwise get a value it could never be given."""
    issues: list[SpecIssue] = []
    for name, decl in spec.params.items():
        problem = None if decl.default is None else value_problem(decl, decl.default)
        if problem:
            issues.append(doc.issue(IssueCode.INVALID_VALUE, problem, ("params", name, "default")))
    return issues


def template_issues(doc: LoadedDocument, resolver: TemplateResolver) -> list[SpecIssue]:
    """Every `uses:` names a known template and passes it valid `with:` inputs."""
    issues: list[SpecIssue] = []
    for index, task in _tasks(doc):
        uses = task.get("uses")
        if isinstance(uses, str) and re.fullmatch(TEMPLATE_REF_PATTERN, uses):
            issues.extend(uses_issues(doc, ("tasks", index), uses, task.get("with", {}), resolver))
    return issues


def validate_document(
    doc: LoadedDocument,
    resolver: TemplateResolver,
    pools: Mapping[str, float] | None = None,
    queues: Collection[str] | None = None,
) -> WorkflowSpec:
    """The `WorkflowSpec` of a parsed document; SpecError listing every problem otherwise.

    `pools` (configured custom pools) makes every pool a task asks for be checked too;
    `queues` (configured queue names) every `queue:`.
    """
    tasks = doc.get(("tasks",))
    if isinstance(tasks, list) and len(tasks) > MAX_TASKS:
        message = _("too many tasks: {count}, at most {limit}", count=len(tasks), limit=MAX_TASKS)
        raise SpecError([doc.issue(IssueCode.TOO_LARGE, message, ("tasks",))], doc.filename)
    issues: list[SpecIssue] = []
    spec: WorkflowSpec | None = None
    try:
        spec = WorkflowSpec.model_validate(doc.data)
    except ValidationError as exc:
        issues.extend(issues_from_validation(exc, doc))
    if spec is not None:
        issues.extend(default_issues(doc, spec))
    issues.extend(body_issues(doc))
    found, graph, acyclic = graph_issues(doc)
    issues.extend(found)
    issues.extend(expression_issues(doc, graph, acyclic))
    issues.extend(template_issues(doc, resolver))
    issues.extend(planned_issues(doc, pools, queues))
    if pools is not None:
        issues.extend(template_pool_issues(doc, resolver, pools))
    if issues or spec is None:
        raise SpecError(finish_issues(issues), doc.filename)
    return spec


def load_workflow(
    text: str | bytes,
    filename: str = "<input>",
    *,
    content_type: str | None = None,
    template_dirs: Sequence[Path] = (),
    resolver: TemplateResolver | None = None,
    pools: Mapping[str, float] | None = None,
    queues: Collection[str] | None = None,
) -> WorkflowSpec:
    """Parse and fully validate a workflow (YAML, or JSON by content type or `.json` name).

    `template_dirs` are extra template folders (the CLI passes `Settings().template_dirs`, from
    `BASIR_TEMPLATE_PATH`); a ready `resolver` may be passed instead.  `pools` are the
    configured custom pools (`Settings().pools`) and `queues` the configured queue names
    (`Settings().queues`), given where a workflow is applied or run.
    Raises `SpecError` with every issue found, each located as `file:line:col`.
    """
    doc = parse_document(text, filename, content_type=content_type)
    return validate_document(doc, resolver or TemplateResolver(template_dirs), pools, queues)


def load_workflow_file(
    path: str | Path,
    *,
    template_dirs: Sequence[Path] = (),
    resolver: TemplateResolver | None = None,
    pools: Mapping[str, float] | None = None,
    queues: Collection[str] | None = None,
) -> WorkflowSpec:
    """`load_workflow` on a file; an unreadable or oversized file is a `SpecError` too."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            if os.fstat(handle.fileno()).st_size > MAX_SPEC_BYTES:
                size = os.fstat(handle.fileno()).st_size
                message = _(
                    "the file is too large: {size} bytes, at most {limit}",
                    size=size,
                    limit=MAX_SPEC_BYTES,
                )
                raise SpecError([SpecIssue(IssueCode.TOO_LARGE, message)], str(path))
            data = handle.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        message = _("cannot read the file: {error}", error=exc.strerror or str(exc))
        raise SpecError([SpecIssue(IssueCode.UNREADABLE, message)], str(path)) from exc
    return load_workflow(
        data, str(path), template_dirs=template_dirs, resolver=resolver, pools=pools, queues=queues
    )
