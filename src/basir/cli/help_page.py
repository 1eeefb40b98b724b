"""`basir --help` without typer: the same page, drawn from a table of the commands.

Typer needs ~40 ms to import and ~25 ms more to read the signature of every command of every
group only to list their names; the top-level page shows no more than this module's table.
It follows click's help layout (usage line, wrapped description, definition lists, short
help cut at a sentence end or with `...`) and a test compares it with the whole app's page
in every language and at several terminal widths.  Each command module takes its help text
from `COMMAND_HELP`, so the table and the app cannot drift apart.
"""

from __future__ import annotations

import os
import sys

from basir.cli.click_messages import HELP_OPTION
from basir.i18n import N_, _

APP_HELP = N_("Basir L3: run workflows of tasks durably, in the right order, and watch them.")
LANG_HELP = N_("language of messages: en or ar")

# Every top-level command and group, in the order `basir --help` lists them, with its help.
COMMAND_HELP: dict[str, str] = {
    "validate": N_("Check workflow files; print file:line:col errors and exit 2 on any."),
    "schema": N_("Print the JSON Schema of workflow files, for editors."),
    "run": N_("Run a workflow (file or stored name) to the end, showing progress."),
    "resume": N_("Continue an interrupted run of the embedded store to its end."),
    "report": N_("Performance report per workflow and task, read from the embedded store."),
    "server": N_("Serve the API, the scheduler and the workers in one process."),
    "workflows": N_("Store and inspect versioned workflows."),
    "logs": N_("Search the logs of tasks across runs."),
    "runs": N_("List, inspect and control the runs of a server."),
    "alerts": N_("List, acknowledge and silence the alerts of a server."),
    "audit": N_("List and verify the hash-chained audit log."),
    "schedules": N_("List, preview, pause, resume and backfill schedules; scheduler statistics."),
    "resources": N_("Resource pools: capacity, what is in use and by whom, waiting tasks."),
    "queues": N_("Named queues: limits, rates, what runs in them and what waits."),
}


def command_help(name: str) -> str:
    """The translated help of top-level command `name` (for its module's registration)."""
    return _(COMMAND_HELP[name])


def program_name() -> str:
    """What click calls the program in `Usage:` lines, for a console script.

    None when Basir was started as `python -m …`: only the whole app names that case.
    """
    main = sys.modules.get("__main__")
    if getattr(main, "__package__", None) not in (None, ""):
        return ""
    return os.path.basename(sys.argv[0])


def plain(text: str) -> bool:
    """Whether click would print `text` as one paragraph, without its own reshaping.

    A help text with line breaks, tabs, escape codes or leading spaces goes through click's
    paragraph rules; the whole app draws such a page instead.
    """
    return text == text.lstrip() and not any(
        char != " " and (char.isspace() or char in "\x1b\b") for char in text
    )


def terminal_columns() -> int:
    """`shutil.get_terminal_size().columns` without importing shutil (and its compressors)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    try:
        columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return 80
    return columns or 80


def _wrap(text: str, width: int, first: str = "", rest: str | None = None) -> list[str]:
    """Lines of `text` wrapped to `width` as click wraps them (long words are cut)."""
    import textwrap

    class _Wrapper(textwrap.TextWrapper):
        def _handle_long_word(
            self, reversed_chunks: list[str], cur_line: list[str], cur_len: int, width: int
        ) -> None:
            space_left = max(width - cur_len, 1)
            last = reversed_chunks[-1]
            cur_line.append(last[:space_left])
            reversed_chunks[-1] = last[space_left:]

    indent = first if rest is None else rest
    wrapper = _Wrapper(
        width, initial_indent=first, subsequent_indent=indent, replace_whitespace=False
    )
    return wrapper.fill(text).splitlines()


def short_help(text: str, limit: int) -> str:
    """The first sentence of `text` if it fits in `limit`, else its first words and `...`."""
    words = text.split()
    total = 0
    index = 0
    for index, word in enumerate(words):
        total += len(word) + (index > 0)
        if total > limit:
            break
        if word[-1] == ".":
            return " ".join(words[: index + 1])
        if total == limit and index != len(words) - 1:
            break
    else:
        return " ".join(words)
    total += len("...")
    while index > 0:
        total -= len(words[index]) + (index > 0)
        if total <= limit:
            break
        index -= 1
    return " ".join(words[:index]) + "..."


def _definitions(rows: list[tuple[str, str]], width: int, indent: int = 2) -> list[str]:
    """A two-column list (name, text) as click's `write_dl` lays it out."""
    first_col = min(max(len(name) for name, _text in rows), 30) + 2
    text_width = max(width - first_col - 2, 10)
    lines = []
    for name, text in rows:
        wrapped = _wrap(text, text_width)
        if len(name) <= first_col - 2:
            lines.append(" " * indent + name + " " * (first_col - len(name)) + wrapped[0])
        else:
            lines += [" " * indent + name, " " * (first_col + indent) + wrapped[0]]
        lines += [" " * (first_col + indent) + line for line in wrapped[1:]]
    return lines


def top_level_help(prog: str) -> str | None:
    """The text of `basir --help` in the current language (without the final newline).

    None when a translated text is not plain (see `plain`): the whole app draws that page.
    """
    texts = [_(APP_HELP), _(LANG_HELP), *(_(text) for text in COMMAND_HELP.values())]
    if not all(plain(text) for text in texts):
        return None
    width = max(min(terminal_columns(), 80) - 2, 50)
    usage_word = _("Usage:") + " "
    usage_prefix = f"{usage_word}{prog} "
    args = "[OPTIONS] COMMAND [ARGS]..."
    if width >= len(usage_prefix) + 20:
        usage = _wrap(args, width, usage_prefix, " " * len(usage_prefix))
    else:
        usage = [usage_prefix, *_wrap(args, width, " " * (len(usage_word) + 4))]
    lines = [*usage, "", *_wrap(_(APP_HELP), width, "  "), "", _("Options") + ":"]
    lines += _definitions([("--lang <str>", _(LANG_HELP)), ("--help", _(HELP_OPTION))], width)
    limit = width - 6 - max(len(name) for name in COMMAND_HELP)
    commands = [(name, short_help(_(text), limit)) for name, text in COMMAND_HELP.items()]
    lines += ["", _("Commands") + ":", *_definitions(commands, width)]
    return "\n".join(lines)
