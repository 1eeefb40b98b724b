"""`basir run` and `basir resume`: a workflow run to the end, in this process, with progress."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from basir.cli.common import EXIT_INVALID, fail
from basir.cli.help_page import command_help
from basir.cli.run_local import parse_params, resume_local, run_local
from basir.i18n import _


def _given_on_command_line(ctx: typer.Context, name: str) -> bool:
    """Whether option `name` was typed (not taken from its environment variable or default)."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name == "COMMANDLINE"


def register(app: typer.Typer) -> None:
    """Add `run` and `resume` to the app."""

    @app.command(help=command_help("run"))
    def run(
        ctx: typer.Context,
        target: Annotated[str, typer.Argument(help=_("workflow file or stored workflow name"))],
        param: Annotated[
            list[str], typer.Option("--param", "-p", help=_("parameter as key=value"))
        ] = [],  # noqa: B006 - typer reads the default, never mutates it
        json_out: Annotated[
            bool, typer.Option("--json", help=_("print the result as JSON on stdout"))
        ] = False,
        junit: Annotated[
            Path | None, typer.Option("--junit", help=_("write a JUnit XML report"))
        ] = None,
        server: Annotated[
            str | None,
            typer.Option("--server", envvar="BASIR_SERVER", help=_("run on this server")),
        ] = None,
        token: Annotated[
            str | None, typer.Option("--token", envvar="BASIR_TOKEN", help=_("API token"))
        ] = None,
    ) -> None:
        if server is None and _given_on_command_line(ctx, "token"):
            fail(_("--token is used only with --server; a local run needs no token"))
        if server is not None:
            from basir.cli.remote_run import run_remote

            raise typer.Exit(
                run_remote(server, token, target, parse_params(param), json_out, junit)
            )
        raise typer.Exit(run_local(target, param, json_out, junit))

    @app.command(help=command_help("resume"))
    def resume(
        run_id: Annotated[str, typer.Argument(help=_("the run id printed by basir run"))],
        json_out: Annotated[
            bool, typer.Option("--json", help=_("print the result as JSON on stdout"))
        ] = False,
        junit: Annotated[
            Path | None, typer.Option("--junit", help=_("write a JUnit XML report"))
        ] = None,
    ) -> None:
        raise typer.Exit(resume_local(run_id, json_out, junit))


__all__ = ["EXIT_INVALID", "parse_params", "register"]
