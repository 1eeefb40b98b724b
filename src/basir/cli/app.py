"""The typer application of `basir`: every command group, or one module's commands.

`basir.cli.main` imports this only when the direct path (`basir.cli.direct`) leaves the
command line to typer: help of a command, an error in the arguments, the server commands.
"""

from __future__ import annotations

import importlib
from typing import Annotated

import typer

from basir.cli.click_messages import translate_click
from basir.cli.direct import is_supported
from basir.cli.help_page import APP_HELP, LANG_HELP
from basir.i18n import DEFAULT_LOCALE, _, current_locale, set_locale


def build_app(only: str | None = None) -> typer.Typer:
    """Assemble the typer application: every command group, or only module `only`'s commands.

    With `only` (a module of `main.LEAN_COMMANDS`) the app keeps the same options and
    callback, so each of that module's commands parses, helps and fails exactly as in the
    whole app.  Outside English, typer's own messages are translated too (`click_messages`).
    """
    if current_locale() != DEFAULT_LOCALE:
        translate_click()
    app = typer.Typer(
        name="basir",
        help=_(APP_HELP),
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )

    @app.callback()
    def main_options(
        lang: Annotated[str | None, typer.Option("--lang", help=_(LANG_HELP))] = None,
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
