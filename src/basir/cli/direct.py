"""The commonest command lines, served without typer: `--help`, `validate`, `run`, `resume`.

Typer costs a fresh `basir` ~40 ms to import plus the reading of every command's signature
and a pydantic adapter per parameter; a CI job or git hook running `basir validate` pays it
on every call.  `serve` parses only the plain forms of these commands (the option names
alone, values as separate words) and hands anything else (`--help` of a command, a
misspelt option, `--server`, shell completion) to the typer app by returning None, so every
error message and help page still comes from typer.  What it runs is the same function the
typer command runs, and it ends the process as typer's standalone mode does: the command's
exit code, 130 on Ctrl-C, `Aborted!` on end of input, a click error shown with its code.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO, cast

from basir.i18n.catalog import SUPPORTED_LOCALES


def is_supported(lang: str) -> bool:
    """Whether `--lang` names a language Basir speaks (`ar`, `ar_SA.UTF-8`, `EN` …)."""
    code = lang.replace("-", "_").split(".")[0].split("@")[0].split("_")[0].strip().lower()
    return code in SUPPORTED_LOCALES


def split_lang(argv: list[str]) -> tuple[str | None, list[str]] | None:
    """The `--lang` given before the command and the words after it; None if unusual.

    A missing value or a second `--lang` is left to typer.
    """
    lang = None
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg == "--lang" or arg.startswith("--lang="):
            if lang is not None or (arg == "--lang" and index + 1 >= len(argv)):
                return None
            lang = argv[index + 1] if arg == "--lang" else arg.split("=", 1)[1]
            index += 2 if arg == "--lang" else 1
        else:
            break
    return lang, argv[index:]


def _readable(value: str) -> bool:
    """Whether click's path check accepts `value`: missing, or there and readable."""
    if not value:
        return False
    try:
        os.stat(value)
    except OSError:
        return True
    return os.access(value, os.R_OK)


def _options(
    args: list[str], flags: dict[str, str], valued: dict[str, str]
) -> tuple[list[str], dict[str, object]] | None:
    """Positional words and option values of `args`, or None for any other form.

    `flags` and `valued` map each spelling (`-q`, `--quiet`) to the option's name; a
    valued option repeats into a list.  A value or word starting with `-`, an empty word,
    an attached value (`--param=a=1`, `-pa=1`) all go to typer.
    """
    words: list[str] = []
    values: dict[str, object] = {}
    index = 0
    while index < len(args):
        arg = args[index]
        if arg in flags:
            values[flags[arg]] = True
        elif arg in valued:
            if index + 1 >= len(args) or args[index + 1].startswith("-"):
                return None
            found = values.setdefault(valued[arg], [])
            assert isinstance(found, list)
            found.append(args[index + 1])
            index += 1
        elif arg.startswith("-") or not arg:
            return None
        else:
            words.append(arg)
        index += 1
    return words, values


def _validate(args: list[str]) -> Callable[[], int] | None:
    parsed = _options(args, {"-q": "quiet", "--quiet": "quiet"}, {})
    if parsed is None or not parsed[0] or not all(_readable(word) for word in parsed[0]):
        return None
    files, values = parsed
    from basir.cli.validating import validate_files

    return lambda: validate_files([Path(file) for file in files], bool(values.get("quiet")))


def _junit(values: dict[str, object]) -> tuple[bool, Path | None]:
    """Whether `--junit` was given at most once to a readable-or-missing path, and the path."""
    given = values.get("junit", [])
    assert isinstance(given, list)
    if len(given) > 1 or (given and not _readable(given[0])):
        return False, None
    return True, Path(given[0]) if given else None


def _run(args: list[str]) -> Callable[[], int] | None:
    if "BASIR_SERVER" in os.environ:  # the envvar of `--server`: typer's remote run
        return None
    valued = {"-p": "param", "--param": "param", "--junit": "junit"}
    parsed = _options(args, {"--json": "json"}, valued)
    if parsed is None or len(parsed[0]) != 1:
        return None
    (target,), values = parsed
    usable, junit = _junit(values)
    if not usable:
        return None
    params = values.get("param", [])
    assert isinstance(params, list)
    from basir.cli.run_local import run_local

    return lambda: run_local(target, params, bool(values.get("json")), junit)


def _resume(args: list[str]) -> Callable[[], int] | None:
    parsed = _options(args, {"--json": "json"}, {"--junit": "junit"})
    if parsed is None or len(parsed[0]) != 1:
        return None
    (run_id,), values = parsed
    usable, junit = _junit(values)
    if not usable:
        return None
    from basir.cli.run_local import resume_local

    return lambda: resume_local(run_id, bool(values.get("json")), junit)


COMMANDS: dict[str, Callable[[list[str]], Callable[[], int] | None]] = {
    "validate": _validate,
    "run": _run,
    "resume": _resume,
}


def serve(argv: list[str]) -> int | None:
    """Run `basir <argv>` without typer and give its exit code, or None to leave it to typer."""
    split = split_lang(argv)
    if split is None or "_BASIR_COMPLETE" in os.environ:
        return None
    lang, rest = split
    if lang is not None and not is_supported(lang):
        return None
    if rest == ["--help"] or not argv:
        return _help(to_stdout=bool(argv))
    command = COMMANDS.get(rest[0]) if rest else None
    body = command(rest[1:]) if command is not None else None
    return None if body is None else _as_typer_would(body)


def _help(to_stdout: bool) -> int | None:
    """`basir --help` (on stdout, exit 0) or bare `basir` (on stderr, a usage error: 2)."""
    from basir.cli.help_page import program_name, top_level_help

    prog = program_name()
    page = top_level_help(prog) if prog else None  # `python -m …`: typer names that
    if page is None:
        return None
    (sys.stdout if to_stdout else sys.stderr).write(page + "\n")
    return 0 if to_stdout else 2


def _as_typer_would(body: Callable[[], int]) -> int:
    """Run a command body and end as typer's standalone mode ends it: an exit code."""
    try:
        try:
            return body()
        except EOFError:
            sys.stderr.write("\n")
            sys.stderr.write("Aborted!\n")
            return 1
        except KeyboardInterrupt:
            return 130
        except OSError as error:
            if error.errno != errno.EPIPE:
                raise
            from typer._click.utils import PacifyFlushWrapper

            sys.stdout = cast(TextIO, PacifyFlushWrapper(sys.stdout))
            sys.stderr = cast(TextIO, PacifyFlushWrapper(sys.stderr))
            return 1
    except BaseException as error:
        code = _click_exit_code(error)
        if code is None:
            raise
        return code


def _click_exit_code(error: BaseException) -> int | None:
    """The exit code typer gives an exception a command raised (`fail` raises `Exit`).

    Only a process that imported typer can have raised one, so typer is never imported here.
    """
    typer_exceptions = sys.modules.get("typer.exceptions")
    click_exceptions = sys.modules.get("typer._click.exceptions")
    if typer_exceptions is None or click_exceptions is None:
        return None
    if isinstance(error, click_exceptions.ClickException):
        error.show()
        return int(error.exit_code)
    if isinstance(error, typer_exceptions.Exit):
        return int(error.exit_code)
    if isinstance(error, typer_exceptions.Abort):
        sys.stderr.write("Aborted!\n")
        return 1
    return None
