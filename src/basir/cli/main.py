"""`basir`: the command line (DESIGN §6).  One module per command group, registered here."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from basir.i18n import _, set_locale
from basir.i18n.catalog import SUPPORTED_LOCALES


def is_supported(lang: str) -> bool:
    """Whether `--lang` names a language Basir speaks (`ar`, `ar_SA.UTF-8`, `EN` …)."""
    code = lang.replace("-", "_").split(".")[0].split("@")[0].split("_")[0].strip().lower()
    return code in SUPPORTED_LOCALES


def _lang_from_argv() -> None:
    """Pick the locale before typer renders any help text (which is translated too)."""
    import sys

    argv = sys.argv
    for index, arg in enumerate(argv):
        if arg == "--lang" and index + 1 < len(argv):
            set_locale(argv[index + 1])
            return
        if arg.startswith("--lang="):
            set_locale(arg.split("=", 1)[1])
            return
    set_locale(os.environ.get("BASIR_LANG") or os.environ.get("LANG"))


def build_app() -> typer.Typer:
    """Assemble the typer application with every command group."""
    from basir.cli import logs_cmd, report_cmd, run_cmd, spec_cmd, workflows_cmd

    app = typer.Typer(
        name="basir",
        help=_("Basir L3: run workflows of tasks durably, in the right order, and watch them."),
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )

    @app.callback()
    def main_options(
        lang: Annotated[
            str | None, typer.Option("--lang", help=_("language of messages: en or ar"))
        ] = None,
    ) -> None:
        if lang is not None:
            if not is_supported(lang):
                raise typer.BadParameter(
                    _("{lang} is not a language of Basir: use en or ar", lang=lang),
                    param_hint="--lang",
                )
            set_locale(lang)

    spec_cmd.register(app)
    run_cmd.register(app)
    workflows_cmd.register(app)
    report_cmd.register(app)
    logs_cmd.register(app)
    _register_optional(app)
    return app


def _register_optional(app: typer.Typer) -> None:
    """Command groups owned by the server side (issue 3)."""
    try:
        from basir.cli import alerts_cmd, resources_cmd, runs_cmd, schedules_cmd, server_cmd
    except ImportError:  # pragma: no cover - only while those modules are being written
        return
    server_cmd.register(app)
    runs_cmd.register(app)
    alerts_cmd.register(app)
    schedules_cmd.register(app)
    resources_cmd.register(app)


def main() -> None:
    """Console-script entry point."""
    from basir.cli.startup import before_exit, collect_less_while_starting

    collect_less_while_starting()  # before the commands import what they need
    _lang_from_argv()
    try:
        build_app()()
    finally:  # typer ends every command with SystemExit
        before_exit()
