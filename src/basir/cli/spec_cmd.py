"""`basir validate` and `basir schema`: checking workflow files without a store or server."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from basir.cli.common import EXIT_INVALID, settings
from basir.i18n import _


def register(app: typer.Typer) -> None:
    """Add `validate` and `schema` to the app."""

    @app.command(help=_("Check workflow files; print file:line:col errors and exit 2 on any."))
    def validate(
        files: Annotated[list[Path], typer.Argument(help=_("workflow files (YAML or JSON)"))],
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help=_("print only errors"))] = False,
    ) -> None:
        from basir.spec.errors import SpecError
        from basir.spec.validate import load_workflow_file

        config = settings()
        failed = False
        for path in files:
            try:
                spec = load_workflow_file(path, template_dirs=config.template_dirs)
            except SpecError as error:
                failed = True
                for issue in error.issues:
                    sys.stderr.write(issue.format(str(path)) + "\n")
                continue
            if not quiet:  # plain text: rich is not worth importing for one line
                message = _(
                    "{file}: valid workflow {name} with {count} tasks",
                    file=str(path),
                    name=spec.name,
                    count=len(spec.tasks),
                )
                sys.stderr.write(message + "\n")
        if failed:
            raise typer.Exit(EXIT_INVALID)

    @app.command(help=_("Print the JSON Schema of workflow files, for editors."))
    def schema() -> None:
        from basir.spec.schema import workflow_json_schema

        sys.stdout.write(json.dumps(workflow_json_schema(), indent=2, ensure_ascii=False) + "\n")
