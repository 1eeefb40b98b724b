"""Static checks of the `${{ … }}` expressions inside a workflow or template document.

Each expression must parse, may only use the context names of its place (`item` only in a
`foreach` task, `inputs` only in templates, …), may not read `secrets` or `signals` yet
(`spec.unsupported`: they would always be empty), and its static references must exist:
`params.x` a declared parameter, `inputs.x` a declared input, `run.x` a field of a run
(`RUN_FIELDS`), `tasks.x` a task that the
current task needs, directly or transitively (otherwise its outputs may not exist yet).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from basir.i18n import _
from basir.spec.errors import FieldPath, IssueCode, SpecIssue
from basir.spec.expressions import (
    ExpressionError,
    Piece,
    condition_source,
    parse,
    referenced_keys,
    referenced_roots,
    split_template,
)
from basir.spec.loader import LoadedDocument
from basir.spec.model_errors import suggest
from basir.spec.shell_script import refusals

TASK_ROOTS = frozenset({"params", "tasks", "run", "env", "secrets", "signals"})
WORKFLOW_ROOTS = frozenset({"params", "run", "env", "secrets", "signals"})
TEMPLATE_ROOTS = frozenset({"inputs", "run", "env", "secrets", "signals", "item", "index"})
# What `run.<field>` may read (`engine.context.expression_context`).
RUN_FIELDS = frozenset({"id", "workflow", "version", "priority", "trigger", "logical_time"})
# Names every place may use once their features land; until then an expression reading them
# would get nothing, so it is refused (`spec.unsupported`).
PLANNED_ROOTS: dict[str, Callable[[str], str]] = {
    "secrets": lambda expr: _(
        "secrets are not stored yet (roadmap 8): {expr} would always be empty; pass the value"
        " as a parameter until then",
        expr=expr,
    ),
    "signals": lambda expr: _(
        "L1 signals are not received yet (roadmap 9): {expr} would always be empty", expr=expr
    ),
}


@dataclass(frozen=True)
class Scope:
    """What expressions at one place may read."""

    roots: frozenset[str]
    keys: Mapping[str, Collection[str]] = field(default_factory=dict)  # params, tasks, inputs
    task_id: str | None = None
    upstream: Callable[[str], bool] | None = None


def _short(source: str) -> str:
    return source if len(source) <= 60 else source[:57] + "…"


def _key_problems(source: str, scope: Scope) -> Iterator[tuple[str, str]]:
    for key in sorted(referenced_keys(source, "run") - RUN_FIELDS):
        message = _(
            "unknown run field {name} in {expr}; a run has: {names}",
            name=key,
            expr=_short(source),
            names=", ".join(sorted(RUN_FIELDS)),
        )
        yield IssueCode.UNKNOWN_REFERENCE, message + suggest(key, RUN_FIELDS)
    for root, allowed in scope.keys.items():
        for key in sorted(referenced_keys(source, root)):
            if key not in allowed:
                hint = suggest(key, allowed)
                if root == "tasks":
                    message = _("unknown task {name} in {expr}", name=key, expr=_short(source))
                elif root == "params":
                    message = _("unknown parameter {name} in {expr}", name=key, expr=_short(source))
                else:
                    message = _("unknown input {name} in {expr}", name=key, expr=_short(source))
                yield IssueCode.UNKNOWN_REFERENCE, message + hint
            elif root == "tasks" and scope.upstream is not None and not scope.upstream(key):
                message = _(
                    "task {task} reads tasks.{ref} but does not need it: add {ref} to its needs",
                    task=scope.task_id,
                    ref=key,
                )
                yield IssueCode.UNKNOWN_REFERENCE, message


def check_expression(source: str, scope: Scope) -> list[tuple[str, str]]:
    """(code, message) for each problem of one expression source at a place with `scope`."""
    try:
        tree = parse(source)
    except ExpressionError as exc:
        message = _("bad expression {expr}: {error}", expr=_short(source), error=exc.message)
        return [(IssueCode.BAD_EXPRESSION, message)]
    problems: list[tuple[str, str]] = []
    roots = referenced_roots(tree)
    for root in sorted(roots & PLANNED_ROOTS.keys()):
        problems.append((IssueCode.UNSUPPORTED, PLANNED_ROOTS[root](_short(source))))
    for root in sorted(roots - scope.roots):
        message = _(
            "unknown name {name} in {expr}; expressions here can use: {names}",
            name=root,
            expr=_short(source),
            names=", ".join(sorted(scope.roots)),
        )
        problems.append((IssueCode.UNKNOWN_REFERENCE, message + suggest(root, scope.roots)))
    problems.extend(_key_problems(source, scope))
    return problems


def _strings(value: Any, path: FieldPath) -> Iterator[tuple[FieldPath, str]]:
    stack: list[tuple[FieldPath, Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            yield where, item
        elif isinstance(item, dict):
            stack.extend(((*where, key), child) for key, child in item.items())
        elif isinstance(item, list):
            stack.extend(((*where, index), child) for index, child in enumerate(item))


def check_value(
    doc: LoadedDocument, path: FieldPath, value: Any, scope: Scope, *, bare: bool = False
) -> list[SpecIssue]:
    """Check every `${{ … }}` in the strings of `value` (at `path` of `doc`).

    With `bare` (for `if:`) a string without `${{` is itself one expression.
    """
    issues: list[SpecIssue] = []
    for where, text in _strings(value, path):
        try:
            if bare:
                source = condition_source(text)
                sources = [source] if source else []
                if not source:
                    sources = [p.source for p in split_template(text) if isinstance(p, Piece)]
            else:
                if "${{" not in text:
                    continue
                sources = [p.source for p in split_template(text) if isinstance(p, Piece)]
        except ExpressionError as exc:
            issues.append(doc.issue(IssueCode.BAD_EXPRESSION, exc.message, where))
            continue
        for source in sources:
            issues.extend(
                doc.issue(code, message, where) for code, message in check_expression(source, scope)
            )
    return issues


def run_issues(doc: LoadedDocument, path: FieldPath, task: Any) -> list[SpecIssue]:
    """`${{ }}` of a task's `run:` standing where a value cannot be passed safely.

    `path` is the task's; the issue points at its `run:` and names the script's line.
    """
    if not isinstance(task, dict):
        return []
    script, shell = task.get("run"), task.get("shell")
    if not isinstance(script, str) or "${{" not in script:
        return []
    try:
        pieces = split_template(script)
    except ExpressionError:
        return []  # reported by check_value
    return [
        doc.issue(
            IssueCode.EXPRESSION_PLACEMENT,
            _(
                "line {line}, column {col} of the script: {message}",
                line=refusal.line,
                col=refusal.col,
                message=refusal.message,
            ),
            (*path, "run"),
        )
        for refusal in refusals(pieces, shell if isinstance(shell, str) else None)
    ]
