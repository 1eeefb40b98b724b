"""`basir`: the command line (DESIGN §6).  One module per command group, registered here."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Annotated

import typer

from basir.i18n import DEFAULT_LOCALE, _, current_locale, set_locale
from basir.i18n.catalog import SUPPORTED_LOCALES


def is_supported(lang: str) -> bool:
    """Whether `--lang` names a language Basir speaks (`ar`, `ar_SA.UTF-8`, `EN` …)."""
    code = lang.replace("-", "_").split(".")[0].split("@")[0].split("_")[0].strip().lower()
    return code in SUPPORTED_LOCALES


def _lang_from_argv() -> None:
    """Pick the locale before typer renders any help text (which is translated too)."""
    argv = sys.argv
    for index, arg in enumerate(argv):
        if arg == "--lang" and index + 1 < len(argv):
            set_locale(argv[index + 1])
            return
        if arg.startswith("--lang="):
            set_locale(arg.split("=", 1)[1])
            return
    set_locale(os.environ.get("BASIR_LANG") or os.environ.get("LANG"))


# Command → the module of `basir.cli` that registers it, for the commands a fresh process can
# serve with that module's commands alone.  Typer reads the signature of every registered
# command when it builds the click group: ~20 ms of a fresh `basir validate` for all of them.
LEAN_COMMANDS = {
    "validate": "spec_cmd",
    "schema": "spec_cmd",
    "run": "run_cmd",
    "resume": "run_cmd",
}


def command_in(argv: list[str]) -> str | None:
    """The command `basir <argv>` names when only `--lang` precedes it, else None.

    Anything else before the command (`--help`, an unknown option) needs the whole app to
    answer, so it gives None, as does an argument list without a command.
    """
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg == "--lang":
            index += 2
        elif arg.startswith("--lang="):
            index += 1
        else:
            return None if arg.startswith("-") else arg
    return None


def build_app(only: str | None = None) -> typer.Typer:
    """Assemble the typer application: every command group, or only module `only`'s commands.

    With `only` (a module of `LEAN_COMMANDS`) the app keeps the same options and callback, so
    each of that module's commands parses, helps and fails exactly as in the whole app.
    """
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

    if only is not None:
        importlib.import_module(f"basir.cli.{only}").register(app)
        return app
    from basir.cli import logs_cmd, report_cmd, run_cmd, spec_cmd, workflows_cmd

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
        from basir.cli import (
            alerts_cmd,
            audit_cmd,
            queues_cmd,
            resources_cmd,
            runs_cmd,
            schedules_cmd,
            server_cmd,
        )
    except ImportError:  # pragma: no cover - only while those modules are being written
        return
    server_cmd.register(app)
    runs_cmd.register(app)
    alerts_cmd.register(app)
    audit_cmd.register(app)
    schedules_cmd.register(app)
    resources_cmd.register(app)
    queues_cmd.register(app)


def main() -> None:
    """Console-script entry point."""
    from basir.cli.startup import (
        before_exit,
        collect_less_while_starting,
        skip_pydantic_plugin_scan,
    )

    collect_less_while_starting()  # before the commands import what they need
    skip_pydantic_plugin_scan()
    _lang_from_argv()
    if current_locale() != DEFAULT_LOCALE:  # click's usage errors and headings too
        from basir.cli.click_messages import translate_click

        translate_click()
    command = command_in(sys.argv[1:])
    try:
        build_app(LEAN_COMMANDS.get(command or ""))()
    finally:  # typer ends every command with SystemExit
        before_exit()
