"""Task templates: the `uses:` body.  Built-ins (`noop`, `sleep`, `fail`, `echo`) and YAML files.

Template files live at `<dir>/<group>/<name>.yaml` (or `.yml` / `.json`): the library in
`basir/library/` (e.g. `flutter/build`) and the folders of `BASIR_TEMPLATE_PATH`, which are
searched first.  A template file looks like this:

    name: flutter/build            # optional; must match the path when given
    description: {en: Build the app, ar: بناء التطبيق}     # or a plain string
    inputs:                        # what `with:` may pass
      target:
        type: string               # string | integer | number | boolean | array | object | any
        required: true             # default false; a `default:` makes it optional anyway
        enum: [apk, appbundle, ios, web]
        minimum: 0                 # numbers only, optional; so is maximum
        description: {en: What to build, ar: ما الذي يُبنى}
    outputs:                       # documentation of what the task reports
      artifact: {description: Path of the built file}
    task:                          # a partial task: one body (run | python | http | workflow)
      run: flutter build ${{ inputs.target }}
      timeout: 30m                 # optional: env, shell, timeout, retries, workdir,
                                   # priority, resources, args, isolate

`task:` may not set `id`, `needs`, `if`, `when`, `foreach`, `continue_on_error`, `uses`,
`with`, `queue` or `concurrency_key`: those belong to the workflow's task.  `cache` is refused
(`spec.unsupported`) until its feature lands, as it is in workflows (`spec.planned`).
Expressions in a template may use `inputs`, `run`, `env`, `secrets`, `signals`, `item` and
`index` (not `params` or `tasks`: a template does not know the workflow it is used in); every
`inputs.x` must be declared.

Expansion (`expand_template`) happens when a task runs; validation only checks the `with:`
inputs.  The workflow keeps `uses:` (so the UI shows "flutter/build"), the engine runs the
expanded task.  See `expand_template` for the exact contract.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationError

import basir.library
from basir.i18n import _
from basir.spec.errors import FieldPath, IssueCode, SpecError, SpecIssue, SpecValueError
from basir.spec.expr_checks import TEMPLATE_ROOTS, Scope, check_value, run_issues
from basir.spec.loader import LoadedDocument, parse_document
from basir.spec.model_errors import issues_from_validation, suggest
from basir.spec.models import TEMPLATE_REF_PATTERN, Strict, Task
from basir.spec.planned import idle_body_keys, task_planned_keys, unsupported_message
from basir.spec.values import InputDecl
from basir.spec.values import check_value as check_input

LIBRARY_DIR = Path(basir.library.__file__).parent
TEMPLATE_SUFFIXES = (".yaml", ".yml", ".json")
MAX_TEMPLATE_FILES = 10_000
_TASK_ONLY_KEYS = (
    *("id", "needs", "if", "when", "foreach", "continue_on_error", "uses", "with"),
    *("queue", "concurrency_key"),
)


class TemplateOutput(Strict):
    """Documentation of one output a template's task reports."""

    description: str | dict[str, str] | None = None


def _template_task(value: object) -> object:
    if not isinstance(value, dict):
        return value
    for key in value:
        if key in _TASK_ONLY_KEYS:
            message = _(
                "{key} cannot be set in a template; set it where the template is used", key=key
            )
            raise SpecValueError(IssueCode.INVALID_VALUE, message, at=(key,))
    return {"id": "template", **value}


class Template(Strict):
    """A task template; built-ins have no `task` (their executor implements them)."""

    name: str | None = Field(None, pattern=TEMPLATE_REF_PATTERN)
    description: str | dict[str, str] | None = None
    inputs: dict[str, InputDecl] = Field(default_factory=dict, max_length=64)
    outputs: dict[str, TemplateOutput] = Field(default_factory=dict, max_length=64)
    task: Annotated[Task, BeforeValidator(_template_task)] | None = None


BUILTINS: dict[str, Template] = {
    "noop": Template(
        name="noop",
        description={"en": "Does nothing, successfully", "ar": "لا يفعل شيئًا وينجح"},
    ),
    "sleep": Template(
        name="sleep",
        description={"en": "Waits for some seconds", "ar": "ينتظر بضع ثوانٍ"},
        inputs={"seconds": InputDecl(type="number", default=1, minimum=0, maximum=86400)},
    ),
    "fail": Template(
        name="fail",
        description={"en": "Fails, with an optional message", "ar": "يفشل، مع رسالة اختيارية"},
        inputs={"message": InputDecl(type="string")},
    ),
    "echo": Template(
        name="echo",
        description={
            "en": "Reports its message as output `message`",
            "ar": "يعيد رسالته في المخرج message",
        },
        inputs={"message": InputDecl(type="any", required=True)},
        outputs={"message": TemplateOutput(description="the message")},
    ),
}  # fmt: skip


class TemplateError(Exception):
    """A template cannot be used: unknown, invalid, or given bad inputs.  `key` names an input."""

    def __init__(self, code: str, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.key = key


def load_template(text: str | bytes, filename: str, name: str | None = None) -> Template:
    """Parse and check one template file; SpecError with located issues when it is invalid."""
    doc = parse_document(text, filename)
    try:
        template = Template.model_validate(doc.data)
    except ValidationError as exc:
        raise SpecError(issues_from_validation(exc, doc), filename) from None
    issues: list[SpecIssue] = []
    if name is not None and template.name is not None and template.name != name:
        message = _(
            "the name {given} does not match the file's place {name}",
            given=template.name,
            name=name,
        )
        issues.append(doc.issue(IssueCode.BAD_TEMPLATE, message, ("name",)))
    for key, decl in template.inputs.items():
        problem = None if decl.default is None else check_input(decl, decl.default)
        if problem:
            issues.append(doc.issue(IssueCode.INVALID_VALUE, problem, ("inputs", key, "default")))
    raw_task = doc.get(("task",))
    if isinstance(raw_task, dict):
        for key in task_planned_keys(raw_task):
            message = unsupported_message(key)
            issues.append(doc.issue(IssueCode.UNSUPPORTED, message, ("task", key)))
        for key, message in idle_body_keys(raw_task):
            issues.append(doc.issue(IssueCode.INVALID_VALUE, message, ("task", key)))
    scope = Scope(TEMPLATE_ROOTS, {"inputs": set(template.inputs)})
    issues.extend(check_value(doc, ("task",), doc.get(("task",)), scope))
    issues.extend(run_issues(doc, ("task",), doc.get(("task",))))
    if issues:
        raise SpecError(issues, filename)
    return template


class TemplateResolver:
    """Finds templates by name: built-ins, then `dirs` in order, then the library.  Caches."""

    def __init__(self, dirs: Sequence[Path] = (), *, library: Path | None = LIBRARY_DIR) -> None:
        self.dirs = [Path(d) for d in dirs] + ([library] if library is not None else [])
        self._cache: dict[str, Template] = {}

    def find(self, name: str) -> Path | None:
        """The file that defines template `name`, or None."""
        for folder in self.dirs:
            for suffix in TEMPLATE_SUFFIXES:
                path = folder / f"{name}{suffix}"
                if path.is_file():
                    return path
        return None

    def resolve(self, name: str) -> Template:
        """The template called `name`; TemplateError when unknown or invalid."""
        if name in BUILTINS:
            return BUILTINS[name]
        if not re.fullmatch(TEMPLATE_REF_PATTERN, name):  # never let a name walk out of a folder
            raise TemplateError(IssueCode.UNKNOWN_TEMPLATE, _("unknown template {name}", name=name))
        if name in self._cache:
            return self._cache[name]
        path = self.find(name)
        if path is None:
            message = _("unknown template {name}", name=name) + suggest(name, self.names())
            raise TemplateError(IssueCode.UNKNOWN_TEMPLATE, message)
        try:
            template = load_template(path.read_bytes(), str(path), name)
        except SpecError as exc:
            first = exc.issues[0].format(str(path)) if exc.issues else ""
            message = _("template {name} is invalid: {problem}", name=name, problem=first)
            raise TemplateError(IssueCode.BAD_TEMPLATE, message) from exc
        except OSError as exc:
            message = _("template {name} cannot be read: {error}", name=name, error=exc.strerror)
            raise TemplateError(IssueCode.BAD_TEMPLATE, message) from exc
        self._cache[name] = template
        return template

    def names(self) -> list[str]:
        """Every template name available (built-ins first), for listings and suggestions."""
        found = dict.fromkeys(BUILTINS)
        for folder in self.dirs:
            found.update(dict.fromkeys(_folder_names(folder)))
        return list(found)


@functools.lru_cache(maxsize=64)
def _library_names(folder: Path) -> tuple[str, ...]:
    return tuple(_scan(folder))


def _folder_names(folder: Path) -> tuple[str, ...]:
    return _library_names(folder) if folder == LIBRARY_DIR else tuple(_scan(folder))


def _scan(folder: Path) -> list[str]:
    names: list[str] = []
    if not folder.is_dir():
        return names
    for count, path in enumerate(sorted(folder.rglob("*"))):
        if count >= MAX_TEMPLATE_FILES:
            break
        if path.suffix in TEMPLATE_SUFFIXES and path.is_file():
            names.append(path.relative_to(folder).with_suffix("").as_posix())
    return names


def check_inputs(
    template: Template, values: Mapping[str, Any], *, allow_expressions: bool = True
) -> tuple[dict[str, Any], list[TemplateError]]:
    """Inputs with defaults filled in, and every problem: unknown, missing, wrong type or enum.

    With `allow_expressions`, a text value holding `${{ … }}` is accepted as is: its type is
    known only when the task runs.
    """
    resolved: dict[str, Any] = {}
    problems: list[TemplateError] = []
    for key, value in values.items():
        decl = template.inputs.get(key)
        if decl is None:
            message = _("unknown input {key}", key=key) + suggest(key, template.inputs)
            problems.append(TemplateError(IssueCode.BAD_TEMPLATE_INPUT, message, key))
            continue
        resolved[key] = value
        if allow_expressions and isinstance(value, str) and "${{" in value:
            continue
        problem = check_input(decl, value)
        if problem:
            message = _("input {key} {problem}", key=key, problem=problem)
            problems.append(TemplateError(IssueCode.BAD_TEMPLATE_INPUT, message, key))
    for key, decl in template.inputs.items():
        if key in values:
            continue
        if decl.required and decl.default is None:
            message = _("missing required input {key}", key=key)
            problems.append(TemplateError(IssueCode.BAD_TEMPLATE_INPUT, message, None))
        else:
            resolved[key] = decl.default
    return resolved, problems


_BODY_FIELDS = ("run", "python", "args", "isolate", "http", "workflow")
_INHERITED_FIELDS = ("timeout", "retries", "workdir", "priority", "resources")


def expand_template(
    task: Task, resolver: TemplateResolver, *, inputs: Mapping[str, Any] | None = None
) -> Task:
    """The task the engine runs for a `uses:` task (other tasks are returned unchanged).

    Run-time contract, in this order:
      1. `values = render(task.with_, context)` — the user's `with:` may use expressions;
      2. `task = expand_template(task, resolver, inputs=values)` — checks the values now;
      3. render the expanded task's fields with `{**context, "inputs": task.with_}` (`run:`
         with `render_run`); `task.with_` holds the checked inputs, defaults filled in, as data:
         never render it again.
    A built-in keeps `uses` (its executor runs it) and gets its inputs in `with_`.  A file
    template's body replaces `uses`; its env is merged under the task's (key by key); the
    task's own timeout, retries, workdir, priority and resources win over the template's.
    (Templates cannot set `queue` or `cache` yet: `load_template` refuses them.)
    Without `inputs` (validation), values holding `${{ … }}` are not type-checked.
    TemplateError when the template is unknown or invalid, or an input is wrong.
    """
    if task.uses is None:
        return task
    template = resolver.resolve(task.uses)
    values = task.with_ if inputs is None else inputs
    resolved, problems = check_inputs(template, values, allow_expressions=inputs is None)
    if problems:
        raise problems[0]
    body = template.task
    if body is None:
        return task.model_copy(update={"with_": resolved})
    update: dict[str, Any] = {key: getattr(body, key) for key in _BODY_FIELDS}
    update |= {
        "uses": None,
        "with_": resolved,
        "shell": body.shell or task.shell,
        "env": {**body.env, **task.env},
    }
    for key in _INHERITED_FIELDS:
        if getattr(task, key) is None:
            update[key] = getattr(body, key)
    return task.model_copy(update=update)


def uses_issues(
    doc: LoadedDocument, path: FieldPath, uses: str, values: Any, resolver: TemplateResolver
) -> list[SpecIssue]:
    """Validation of one task's `uses:` and `with:` (at `path` in `doc`)."""
    try:
        template = resolver.resolve(uses)
    except TemplateError as exc:
        return [doc.issue(exc.code, exc.message, (*path, "uses"))]
    if not isinstance(values, Mapping):
        return []  # the model reports a non-mapping `with:`
    _resolved, problems = check_inputs(template, values)
    return [
        doc.issue(p.code, p.message, (*path, "with", p.key) if p.key else (*path, "with"))
        for p in problems
    ]
