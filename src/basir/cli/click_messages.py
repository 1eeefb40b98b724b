"""The command line's own framework messages — usage errors, help headings — in its language.

Typer carries its own copy of click.  Some of its texts go through the standard library's
gettext (`typer.core`: the help's section headings, "required", "default: …"), which reads
compiled `.mo` files Basir does not ship; the others are plain English strings (the usage
line's "Usage:", "Error: …", "No such option: …", the help option's own help).  Left alone,
an Arabic command line answers a mistyped option in English.  `translate_click` points the
gettext names at `basir.i18n` and replaces the few functions that print the plain strings with
ones that say the same through `basir.i18n`; it is called only when the locale is not English.
The messages are listed here (`N_`), so that extraction puts them in the catalogue.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import IO, Any

from basir.i18n import N_, gettext

# `typer.core`'s gettext messages that a user meets (help pages, usage errors).
TYPER_CORE = (
    N_("Arguments"),
    N_("Options"),
    N_("Commands"),
    N_("required"),
    N_("default: {default}"),
    N_("env var: {var}"),
    N_("(dynamic)"),
    N_("Aborted!"),
    N_("Missing command."),
    N_("No such command {name!r}."),
)
HELP_OPTION = N_("Show this message and exit.")
# Usage errors raised with English text: recognised by their shape, said again in ours.
RAISED: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"Got unexpected extra argument\(s\) \((?P<args>.*)\)"),
     N_("Got unexpected extra arguments ({args})")),
    (re.compile(r"Option (?P<name>'.*') does not take a value\."),
     N_("Option {name} does not take a value.")),
    (re.compile(r"Option (?P<name>'.*') requires an argument\."),
     N_("Option {name} requires an argument.")),
    (re.compile(r"Option (?P<name>'.*') requires (?P<count>\d+) arguments\."),
     N_("Option {name} requires {count} arguments.")),
    (re.compile(r"Argument (?P<name>'.*') takes (?P<count>\d+) values\."),
     N_("Argument {name} takes {count} values.")),
)  # fmt: skip


def _click_gettext(message: str) -> str:
    """Typer's `_`: the translation, its placeholders left for typer to fill."""
    return gettext(message)


def describe(error: Any) -> str:
    """The message of a usage error in the active language (its English one when unknown)."""
    from typer._click import exceptions as raised

    if isinstance(error, raised.NoSuchOption):
        text = gettext("No such option: {name}", name=error.option_name)
        if error.possibilities:
            names = ", ".join(sorted(error.possibilities))
            text += " " + gettext("(Possible options: {names})", names=names)
        return text
    if isinstance(error, raised.MissingParameter) and not error.message:
        hint = _hint(error)
        kind = error.param_type or (error.param.param_type_name if error.param else "")
        if kind == "argument":
            return gettext("Missing argument {name}.", name=hint)
        if kind == "option":
            return gettext("Missing option {name}.", name=hint)
        return gettext("Missing parameter {name}.", name=hint)
    if isinstance(error, raised.BadParameter) and not isinstance(error, raised.MissingParameter):
        hint, why = _hint(error), _conversion_error(error)
        if not hint:
            return gettext("Invalid value: {message}", message=why)
        return gettext("Invalid value for {name}: {message}", name=hint, message=why)
    message = str(error.format_message())
    for pattern, msgid in RAISED:
        if found := pattern.fullmatch(message):
            return gettext(msgid, **found.groupdict())
    return gettext(message)  # typer.core's own, already through `_`, come back unchanged


def _conversion_error(error: Any) -> str:
    """Why a value was refused: pydantic's errors (typer converts with it) in our words."""
    from pydantic import ValidationError

    cause = error.__cause__
    if not isinstance(cause, ValidationError):
        return str(error.message)
    from basir.spec.pydantic_messages import error_message

    return "; ".join(error_message(dict(item)) for item in cause.errors())


def _hint(error: Any) -> str:
    hint = error.param_hint
    if hint is None and error.param is not None:
        hint = error.param.get_error_hint()
    if hint is not None and not isinstance(hint, str):
        hint = " / ".join(repr(item) for item in hint)
    return hint or ""


def _show_usage_error(self: Any, file: IO[Any] | None = None) -> None:
    """`UsageError.show` in the active language: usage, where to find help, the error."""
    from typer._click._compat import get_text_stderr
    from typer._click.utils import echo

    file = file or get_text_stderr()
    ctx = self.ctx
    if ctx is not None:
        lines = [ctx.get_usage()]
        if ctx.command.get_help_option(ctx) is not None:
            lines.append(
                gettext(
                    "Try '{command} {option}' for help.",
                    command=ctx.command_path,
                    option=ctx.help_option_names[0],
                )
            )
        echo("\n".join(lines) + "\n", file=file, color=ctx.color)
    echo(gettext("Error: {message}", message=describe(self)), file=file)


def _show_error(self: Any, file: IO[Any] | None = None) -> None:
    """`ClickException.show` in the active language."""
    from typer._click._compat import get_text_stderr
    from typer._click.utils import echo

    echo(gettext("Error: {message}", message=describe(self)), file=file or get_text_stderr())


def _usage_prefix(write_usage: Callable[..., None]) -> Callable[..., None]:
    def localised(self: Any, prog: str, args: str = "", prefix: str | None = None) -> None:
        write_usage(self, prog, args, gettext("Usage:") + " " if prefix is None else prefix)

    return localised


def _help_option(make: Callable[..., Any]) -> Callable[..., Any]:
    def localised(*args: Any, **kwargs: Any) -> Any:
        decorate = make(*args, **kwargs)

        def apply(command: Any) -> Any:
            done = decorate(command)
            for param in getattr(command, "params", ()):
                if getattr(param, "help", None) == HELP_OPTION:
                    param.help = gettext(HELP_OPTION)
            return done

        return apply

    return localised


def translate_click() -> None:
    """Make typer's messages go through `basir.i18n` (once per process)."""
    import typer.core
    from typer._click import decorators, exceptions, formatting

    if getattr(typer.core, "_basir_translated", False):
        return
    typer.core._ = _click_gettext  # type: ignore[attr-defined]
    exceptions.UsageError.show = _show_usage_error  # type: ignore[method-assign]
    exceptions.ClickException.show = _show_error  # type: ignore[method-assign]
    formatting.HelpFormatter.write_usage = _usage_prefix(  # type: ignore[method-assign]
        formatting.HelpFormatter.write_usage
    )
    decorators.help_option = _help_option(decorators.help_option)
    typer.core._basir_translated = True  # type: ignore[attr-defined]
