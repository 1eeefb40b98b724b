"""How the shell reads the words of one command: what the next words of it are.

Part of `shell_lexer`: a code frame (the script, `$( )`, `[[ ]]`) keeps the state of the
command being read — is the next word a command name, is this `let`, `eval`, `declare -i`,
`ssh`, an interpreter given a `-c` script, a command named by an expansion — and of its
pipeline (does a program in it read code from standard input, like `… | sh`).  The words are
spelled as the shell will see them (quotes and backslashes removed; `UNKNOWN` for an
expansion), so `\\let` and `"eval"` are recognised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Frame:
    """One open construct: its kind and what closing it needs."""

    kind: str  # code | subst | test | double | single | ansi | backtick | param | arith | heredoc
    depth: int = 0  # open parentheses / braces inside
    closer: str = ""  # arithmetic: "))", ")" or "]"
    at_command: bool = True  # code frames: the next word is a command name
    in_word: bool = False
    bracket: int = 0  # open `[` in the current word (an array subscript is arithmetic)
    mode: str = ""  # code frames: what the words of the current command are (see _MODES)
    word: str = ""  # code frames: the current word as the shell spells it (quotes removed)
    pending: list[tuple[str, bool, bool]] = field(default_factory=list)  # heredocs to read
    redirect: bool = False  # code frames: the next word is the target of a redirection
    stdin_code: bool = False  # code frames: the pipeline feeds its output to an interpreter
    marks: list[int] = field(default_factory=list)  # code frames: marks fed to this command
    command_marks: list[int] = field(default_factory=list)  # code frames: its other marks
    code_heredocs: bool = False  # heredoc frames: the body is fed to an interpreter
    arith_test: bool = False  # `[[ ]]` frames: an arithmetic operator (-eq …) was seen
    found: list[Any] = field(default_factory=list)  # `[[ ]]` frames: the places found so far


KEYWORDS = frozenset(
    {"if", "then", "else", "elif", "while", "until", "do", "!", "{", "time", "command", "builtin"}
)
DECLARE = frozenset({"declare", "typeset", "local", "readonly", "export"})
RUNNERS = re.compile(
    r"(sh|bash|dash|ash|ksh|mksh|zsh|su|python[0-9.]*|node|nodejs|deno|perl|ruby|php|pwsh"
    r"|powershell|Rscript|osascript|tclsh|lua)"
)
SCRIPT_FLAG = re.compile(
    r"-[A-Za-z]*[ceEr][A-Za-z]*|--?(command|eval|exec)|-Command|-EncodedCommand"
)
LOCKED_MODES = frozenset({"let", "eval", "ssh", "decl_int", "runner_script", "dynamic"})
# Commands that may read code from standard input (`sh -c 'bash'` too: the script is unknown).
STDIN_MODES = frozenset({"runner", "runner_c", "runner_args", "ssh", "dynamic"})
ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?=")
UNKNOWN = "\x01"  # in a spelled word: an expansion, whose text is not known before running


def end_word(frame: Frame, names: set[str]) -> None:
    """A blank or an operator ends the current word (if any)."""
    if frame.in_word:
        if frame.redirect:
            frame.redirect = False  # `> file`: not an argument
        elif frame.word:
            command_mode(frame, frame.word, names)
    frame.in_word = False
    frame.bracket = 0
    frame.word = ""
    if frame.mode == "runner_script":
        frame.mode = "runner_args"  # after `sh -c SCRIPT` come plain arguments ($0, $1, …)


def end_command(frame: Frame, pipe: bool) -> list[int]:
    """A command ends (`|` when `pipe`, else `;`, `&&`, a newline, …).

    Returns the marks that reach a program reading code from its standard input (`echo … |
    sh`, `bash <<< …`, `… | ssh host`): they are code.  Here-documents of a pipeline with
    such a program are code too.
    """
    refused: list[int] = []
    if frame.mode in STDIN_MODES:
        frame.stdin_code = True
        refused = frame.marks
        frame.marks = []
    frame.marks = [*frame.marks, *frame.command_marks] if pipe else []
    frame.command_marks = []
    frame.at_command, frame.mode, frame.redirect = True, "", False
    if not pipe:
        frame.code_heredocs = frame.stdin_code
        frame.stdin_code = False
    return refused


def record_mark(frame: Frame, index: int) -> None:
    """Note expression `index` in the current command: as its input when in a redirection."""
    (frame.marks if frame.redirect else frame.command_marks).append(index)


def start_word(frame: Frame, flag: bool = False) -> None:
    """Mark the start of a word; the word after `sh -c` (and its options) is a script."""
    if not frame.in_word and frame.mode == "runner_c" and not flag and not frame.redirect:
        frame.mode = "runner_script"
    frame.in_word = True


def command_mode(frame: Frame, word: str, names: set[str]) -> None:
    """At the end of a word: what the next words of this command are.

    `let`, `eval`, `declare -i`, `ssh`, `sh -c` / `python -c` / `node -e` (any word naming
    an interpreter, `sudo … bash -c` too) and a command name made of an expansion (`$CMD`,
    which could be any of these, so its arguments are refused) change how the following
    words are read.
    """
    if frame.mode in LOCKED_MODES:
        if frame.mode == "decl_int" and not word.startswith("-"):
            names.add(assigned_name(word))
        return
    if frame.mode == "runner_c":
        return  # an option between `-c` and the script
    if frame.mode == "runner" and SCRIPT_FLAG.fullmatch(word):
        frame.mode = "runner_c"
        return
    if frame.mode == "runner" and not word.startswith("-"):
        frame.mode = "runner_file"  # `python3 tool.py`: runs a file, not its input
        return
    if frame.at_command and (word in KEYWORDS or ASSIGNMENT.match(word)):
        return  # still before the command name
    program = word.rsplit("/", 1)[-1]
    if program == "ssh":
        frame.mode, frame.at_command = "ssh", False  # ssh joins its arguments into code
    elif frame.at_command and UNKNOWN in word:
        frame.mode, frame.at_command = "dynamic", False  # `$CMD` could be eval or bash
    elif RUNNERS.fullmatch(program):
        frame.mode, frame.at_command = "runner", False
    elif frame.at_command:
        frame.at_command = False
        frame.mode = {"let": "let", "eval": "eval"}.get(word, "decl" if word in DECLARE else "")
    elif frame.mode == "decl" and word.startswith("-") and "i" in word:
        frame.mode = "decl_int"


def assigned_name(word: str) -> str:
    return word.split("=", 1)[0].removesuffix("+")
