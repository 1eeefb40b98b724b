"""`basir`: the command line (DESIGN §6).  One module per command group (`basir.cli.app`).

A fresh process imports as little as its command needs: the plain forms of `--help`,
`validate`, `run` and `resume` are served without typer (`basir.cli.direct`); anything else
builds the typer app, with only one module's commands when the command is one of
`LEAN_COMMANDS`.
"""

from __future__ import annotations

import os
import sys

from basir.i18n import set_locale


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
    try:
        from basir.cli.direct import serve

        code = serve(sys.argv[1:])
        if code is not None:
            sys.exit(code)
        from basir.cli.app import build_app

        command = command_in(sys.argv[1:])
        build_app(LEAN_COMMANDS.get(command or ""))()
    finally:  # typer ends every command with SystemExit
        before_exit()
