"""Turning a task's spec into the concrete body an executor runs, for one attempt.

Expressions are evaluated here, against the run's current state.  A value never becomes
script text: each `${{ }}` of a `run:` script becomes a reference to an environment variable
`BASIR_EXPR_<i>`, and the values travel beside the script in the body's `expr_env`, which the
shell executor sets for that attempt (`spec.shell_script`).

`env.X` in expressions sees the same allow-listed view of the server's environment that a
task process gets (`executors.environment`), never the server's own secrets.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from basir.engine.context import expression_context, task_env
from basir.engine.state import RunState, TaskState
from basir.executors.environment import allow_list, inherited_env
from basir.spec import expressions
from basir.spec.models import Task
from basir.spec.templates import TemplateResolver, expand_template


class Renderer:
    """Renders task bodies, conditions and foreach lists; expands library templates."""

    def __init__(
        self, template_dirs: list[Path], workdir: Path, *, env_allow: str | Iterable[str] = ""
    ) -> None:
        self.templates = TemplateResolver(template_dirs)
        self.base_workdir = workdir
        # Taken once: what tasks may inherit (`BASIR_TASK_ENV_ALLOW` adds names).
        self.process_env = inherited_env(extra=allow_list(env_allow))

    def condition(self, condition: str | bool, run: RunState, task: TaskState) -> bool:
        """Evaluate an `if:`; a bare expression and a `${{ }}` one mean the same."""
        return expressions.evaluate_condition(
            condition,
            expression_context(run, task, self.process_env),
            files_root=self.workdir_of(run, task),
        )

    def foreach_items(
        self, source: str | list[Any] | None, run: RunState, task: TaskState
    ) -> list[Any]:
        """The list a `foreach:` fans out over: a list, or a string holding a JSON list."""
        return expressions.evaluate_foreach(
            source if source is not None else [],
            expression_context(run, task, self.process_env),
            files_root=self.workdir_of(run, task),
        )

    def text(self, value: str, run: RunState, task: TaskState | None = None) -> str:
        """A string with its `${{ }}` expressions rendered, as text (concurrency keys)."""
        context = expression_context(run, task, self.process_env)
        rendered = expressions.render(value, context, files_root=self.base_workdir)
        return rendered if isinstance(rendered, str) else json.dumps(rendered, sort_keys=True)

    def body(self, run: RunState, task: TaskState) -> tuple[str, dict[str, Any]]:
        """The executor kind and the fully rendered body of a task's next attempt."""
        spec = task.spec
        context = expression_context(run, task, self.process_env)
        root = self.workdir_of(run, task)
        if spec.uses is not None:
            values = expressions.render(spec.with_, context, files_root=root)
            spec = expand_template(spec, self.templates, inputs=values)
            if spec.uses is not None:  # a built-in: its checked inputs are data now
                return "uses", {"uses": spec.uses, "with": spec.with_}
            context["inputs"] = spec.with_
        return render_body(spec, context, root)

    def env_of(self, run: RunState, task: TaskState) -> dict[str, str]:
        """The rendered environment variables of a task."""
        env = task_env(run, task)
        if not any(expressions.OPEN in value for value in env.values()):
            return env
        context = expression_context(run, task, self.process_env)
        return {key: str(expressions.render(value, context)) for key, value in env.items()}

    def workdir_of(self, run: RunState, task: TaskState) -> Path:
        """The working directory of a task: its own, the defaults', else where Basir started."""
        chosen = task.spec.workdir or run.spec.defaults.workdir
        if chosen is None:
            return self.base_workdir
        rendered = str(expressions.render(chosen, expression_context(run, task, self.process_env)))
        path = Path(rendered).expanduser()
        return path if path.is_absolute() else self.base_workdir / path


def render_body(spec: Task, context: dict[str, Any], root: Path) -> tuple[str, dict[str, Any]]:
    """Render one (template-free) task spec's body against an expression context."""
    if spec.run is not None:
        script, values = expressions.render_run(
            spec.run, context, shell=spec.shell, files_root=root
        )
        return "run", {"run": script, "shell": spec.shell, "expr_env": values}
    if spec.python is not None:
        args = expressions.render(spec.args, context, files_root=root)
        return "python", {"python": spec.python, "args": args, "isolate": spec.isolate}
    if spec.http is not None:
        call = spec.http.model_dump(mode="json", by_alias=True)
        return "http", expressions.render(call, context, files_root=root)
    with_values = expressions.render(spec.with_, context, files_root=root)
    return "workflow", {"workflow": spec.workflow, "with": with_values}
