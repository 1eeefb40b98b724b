"""A command served by its own module's app behaves exactly as in the whole app (issue 8)."""

from __future__ import annotations

import pytest
import typer
from typer.main import get_group
from typer.testing import CliRunner

from basir.cli.app import build_app
from basir.cli.main import LEAN_COMMANDS, command_in
from basir.i18n import set_locale


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["validate", "a.yaml"], "validate"),
        (["--lang", "ar", "validate", "a.yaml"], "validate"),
        (["--lang=ar", "run", "a.yaml", "--json"], "run"),
        (["--lang", "validate", "a.yaml"], "a.yaml"),  # `validate` is the language here
        (["--help", "validate"], None),
        (["--unknown", "validate"], None),
        (["--lang"], None),
        ([], None),
    ],
)
def test_command_in_finds_the_command_after_the_group_options(
    argv: list[str], command: str | None
) -> None:
    assert command_in(argv) == command


def _commands(app: typer.Typer) -> set[str]:
    return set(get_group(app).commands)


def test_each_lean_command_is_a_command_of_the_whole_app() -> None:
    whole = _commands(build_app())
    for command, module in LEAN_COMMANDS.items():
        assert command in _commands(build_app(module)) <= whole


@pytest.mark.parametrize("command", sorted(LEAN_COMMANDS))
@pytest.mark.parametrize(
    "args",
    [["--help"], ["--no-such-option"], ["--lang", "xx", "{command}", "--help"]],
)
def test_a_lean_app_answers_as_the_whole_app(command: str, args: list[str]) -> None:
    set_locale("en")
    argv = [command, *args] if args[0] != "--lang" else [a.format(command=command) for a in args]
    runner = CliRunner()
    lean = runner.invoke(build_app(LEAN_COMMANDS[command]), argv, prog_name="basir")
    whole = runner.invoke(build_app(), argv, prog_name="basir")
    assert lean.exit_code == whole.exit_code
    assert lean.output == whole.output
    assert lean.output.startswith("Usage: basir ")
