"""`basir server`: the command; the serving itself is in `cli.serving` (imported on use)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from basir.cli.help_page import command_help
from basir.i18n import _


def server(
    host: Annotated[str | None, typer.Option(help=_("address to listen on"))] = None,
    port: Annotated[
        int | None, typer.Option(min=0, max=65535, help=_("port (0: any free port)"))
    ] = None,
    db: Annotated[
        str | None, typer.Option(help=_("store URL (default: SQLite in BASIR_HOME)"))
    ] = None,
    load_examples: Annotated[
        Path | None,
        typer.Option(
            "--load-examples", exists=True, file_okay=False, help=_("apply every *.yaml here")
        ),
    ] = None,
) -> None:
    """API + scheduler + workers in one process, until SIGTERM or Ctrl+C."""
    from basir.cli.common import settings
    from basir.cli.serving import run_server
    from basir.errors import BasirError

    overrides: dict[str, Any] = {
        key: value for key, value in (("host", host), ("db", db)) if value is not None
    }
    config = settings(**overrides)
    try:
        run_server(config, load_examples, port=port)
    except BasirError as error:
        sys.stderr.write(f"{_('error')}: {error.message}\n")
        for detail in error.details:  # e.g. each problem of a bad alert rules file
            sys.stderr.write(f"  {detail.get('field')}: {detail.get('message')}\n")
        raise typer.Exit(2) from error


server_app = typer.Typer(name="server", rich_markup_mode=None)
server_app.command(help=command_help("server"))(server)


def register(app: typer.Typer) -> None:
    """Add `basir server` to the main app."""
    app.command("server", help=command_help("server"))(server)
