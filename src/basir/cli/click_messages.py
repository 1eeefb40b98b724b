"""Click's own messages — usage errors, help headings — in the command line's language.

Click marks its messages with the standard library's gettext (`from gettext import gettext as
_` in each of its modules), which reads compiled `.mo` files Basir does not ship; left alone, an
Arabic command line would answer a mistyped option in English.  `translate_click` points those
names at `basir.i18n` instead, once, before the arguments are parsed.  The messages a user can
meet are listed below (`N_`), so that extraction puts them in the catalogue beside Basir's
own; the ones only a developer defining commands can meet stay English.  The texts are click
8's, placeholders and all (click fills them itself, after translation).  Click's few plural
messages are translated as two plain ones, its singular for one and its plural otherwise:
click passes every placeholder to both, which a plural entry's forms could not each use.
"""

from __future__ import annotations

import importlib

from basir.i18n import N_, gettext

CLICK_MODULES = ("core", "exceptions", "parser", "decorators", "formatting", "types", "termui")

MESSAGES = (
    N_("Aborted!"),
    N_("Missing command."),
    N_("Options"),
    N_("Positional arguments"),
    N_("Commands"),
    N_("env var: {var}"),
    N_("default: {default}"),
    N_("(dynamic)"),
    N_("Missing argument"),
    N_("unknown error"),
    N_("Invalid value for {param_hint}: {message}"),
    N_("Missing option"),
    N_("Could not open file {filename!r}: {message}"),
    N_("Error: {message}"),
    N_("Try '{command} {option}' for help."),
    N_("Missing parameter"),
    N_("Missing parameter: {param_name}"),
    N_("No such option {name!r}."),
    N_("No such command {name!r}."),
    N_("Invalid value: {message}"),
    N_("Missing {param_type}"),
    N_("Option {name!r} does not take a value."),
    N_("Argument {name!r} takes {nargs} values."),
    N_("Do you want to continue?"),
    N_("Show this message and exit."),
    N_("Usage:"),
    N_("file"),
    N_("directory"),
    N_("path"),
    N_("Choose from:\n\t{choices}"),
    N_("{value} is not in the range {range}."),
    N_("{value!r} is not a valid boolean. Recognized values: {states}"),
    N_("{value!r} is not a valid {number_type}."),
    N_("{name} {filename!r} is a file."),
    N_("{name} {filename!r} is a directory."),
    N_("{name} {filename!r} is not readable."),
    N_("{name} {filename!r} is not writable."),
    N_("{name} {filename!r} does not exist."),
    N_("Error: invalid input"),
    N_("Got unexpected extra argument ({args})"),
    N_("Got unexpected extra arguments ({args})"),
    N_("Option {name!r} requires an argument."),
    N_("Option {name!r} requires {nargs} arguments."),
    N_("{value!r} is not {choice}."),
    N_("{value!r} is not one of {choices}."),
    N_("Did you mean {possibility}?"),
    N_("(Did you mean one of: {possibilities}?)"),
)


def _click_gettext(message: str) -> str:
    """Click's `_`: the translation, its placeholders left for click to fill."""
    return gettext(message)


def _click_ngettext(singular: str, plural: str, count: int) -> str:
    """Click's `ngettext`: its singular or its plural as a plain message (see above)."""
    return gettext(singular if count == 1 else plural)


def translate_click() -> None:
    """Make click's messages go through `basir.i18n` (idempotent)."""
    for name in CLICK_MODULES:
        module = importlib.import_module(f"click.{name}")
        if hasattr(module, "_"):
            module._ = _click_gettext  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = _click_ngettext  # type: ignore[attr-defined]
