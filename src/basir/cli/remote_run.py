"""`basir run --server URL`: submit to a server and follow the run over its event stream."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from basir.cli.common import EXIT_INVALID, err_console, terminal_console
from basir.i18n import _


def _typed_params(
    client: Any, name: str, version: int | None, params: dict[str, str]
) -> dict[str, Any]:
    """`-p key=value` text → the declared types of the workflow's params (as `basir run` does)."""
    from basir.spec.models import WorkflowSpec
    from basir.spec.values import coerce_text

    path = f"/api/v1/workflows/{name}" + (f"/versions/{version}" if version else "")
    document = client.request("GET", path)
    spec = WorkflowSpec.model_validate(document.get("spec", document))
    typed: dict[str, Any] = {}
    for key, text in params.items():
        declared = spec.params.get(key)
        try:
            typed[key] = coerce_text(declared, text) if declared is not None else text
        except ValueError:
            typed[key] = text  # the server names the problem, with its field path
    return typed


def run_remote(
    server: str,
    token: str | None,
    target: str,
    params: dict[str, str],
    json_out: bool,
    junit: Path | None,
) -> int:
    """Apply (if a file), start, follow, and report a run on a server; returns the exit code."""
    from basir.cli.client import ApiClient, ApiError, follow_run
    from basir.cli.progress import RunProgress
    from basir.cli.run_report import SPEC_SUFFIXES, finish_run

    try:
        with ApiClient(server, token) as client:
            path = Path(target)
            version: int | None = None
            name = target
            if path.suffix in SPEC_SUFFIXES or path.exists():
                applied = client.apply_workflow(
                    path.read_text(encoding="utf-8"), json_spec=path.suffix == ".json"
                )
                name, version = str(applied["name"]), int(applied["version"])
            typed = _typed_params(client, name, version, params)
            run = client.start_run(name, params=typed, version=version)
            run_id = str(run["run_id"])
            sys.stderr.write(f"run {run_id}\n")
            progress = RunProgress(terminal_console(), run_id, total=len(run.get("tasks", {})))
            try:
                for event in follow_run(client, run_id):
                    data = event.get("data") or {}
                    progress.handle(SimpleNamespace(run_id=data.get("run_id"), data=data))
            finally:
                progress.close()
            result = client.get_run(run_id)
    except ApiError as error:
        err_console.print(f"[bold red]{_('error')}:[/] {error}", soft_wrap=True)
        for line in located(target, error.errors):
            sys.stderr.write(line + "\n")  # plain: a message is not markup
        return EXIT_INVALID if 400 <= error.status < 500 else 1
    except OSError as error:
        err_console.print(f"[bold red]{_('error')}:[/] {error}", soft_wrap=True)
        return EXIT_INVALID
    return finish_run(result, json_out, junit)


def located(target: str, errors: list[dict[str, Any]]) -> list[str]:
    """A server's field errors as `basir run` prints its own: `file:line:col: field: message`
    (the place when the server knows it: the file's problems, such as a pool that could
    never fit)."""
    lines = []
    for item in errors:
        line, col = item.get("line"), item.get("col")
        where = f"{target}:{line}:{col}: " if line is not None and col is not None else ""
        field = item.get("field") or ""
        lines.append(
            f"{where}{field}: {item.get('message', '')}"
            if field
            else where + str(item.get("message", ""))
        )
    return lines


__all__ = ["run_remote"]
