"""`basir validate` and `basir schema`: checking workflow files without a store or server."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from basir.cli.help_page import command_help
from basir.i18n import _


def register(app: typer.Typer) -> None:
    """Add `validate` and `schema` to the app."""

    @app.command(help=command_help("validate"))
    def validate(
        files: Annotated[list[Path], typer.Argument(help=_("workflow files (YAML or JSON)"))],
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help=_("print only errors"))] = False,
    ) -> None:
        from basir.cli.validating import validate_files

        code = validate_files(files, quiet)
        if code:
            raise typer.Exit(code)

    @app.command(help=command_help("schema"))
    def schema() -> None:
        from basir.spec.schema import workflow_json_schema

        sys.stdout.write(json.dumps(workflow_json_schema(), indent=2, ensure_ascii=False) + "\n")
