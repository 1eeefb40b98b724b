"""Where each `${{ }}` of a `run:` script stands, as the shell will read it.

A value never becomes script text: each expression is replaced by a reference to an
environment variable of the attempt (`engine.rendering`).  Whether such a reference is safe
depends on where it stands, so this module reads the script the way `sh`/`bash` would —
quotes, `$( )`, backticks, `${ }`, arithmetic (`$(( ))`, `(( ))`, `let`, `declare -i`,
array subscripts), `[[ ]]`, `eval`, comments and here-documents —
and says, for every expression, which `Place` it is in.  It is a small lexer, not a parser:
one iterative pass over the script with the expressions replaced by `MARK`, a stack of
frames, no recursion.  Where it cannot be sure it answers with a refusing place.

Only `Place.CODE` (an unquoted word) and `Place.DOUBLE` (inside `"…"` or an unquoted
here-document) are allowed; every other place is refused at validation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

MARK = "\x00"  # stands for one `${{ }}`; a script can never hold NUL itself
_WORD_END = frozenset(" \t\n;&|()<>\"'`$\\" + MARK)
_COMMAND_SEPARATORS = frozenset(";&|(\n")


class Place(StrEnum):
    """Where an expression stands in a script."""

    CODE = "code"  # an unquoted word of a command
    DOUBLE = "double"  # inside "…" or an unquoted here-document
    SINGLE = "single"  # inside '…' or $'…'
    QUOTED_HEREDOC = "quoted_heredoc"  # a here-document with a quoted delimiter
    HEREDOC_WORD = "heredoc_word"  # the delimiter word of a here-document itself
    COMMENT = "comment"
    ARITHMETIC = "arithmetic"  # $(( )), (( )), $[ ], let
    TEST = "test"  # [[ ]]: arithmetic operands and patterns
    BACKTICK = "backtick"
    EVAL = "eval"  # an argument of eval: run as code again
    PARAMETER = "parameter"  # inside ${ … }
    INTERPRETER = "interpreter"  # the interpreter is not a POSIX shell


ALLOWED = frozenset({Place.CODE, Place.DOUBLE})
POSIX_SHELLS = frozenset({"sh", "bash", "dash", "ash", "ksh", "mksh", "zsh"})


@dataclass
class _Frame:
    """One open construct: its kind and what closing it needs."""

    kind: str  # code | subst | test | double | single | ansi | backtick | param | arith | heredoc
    depth: int = 0  # open parentheses / braces inside
    closer: str = ""  # arithmetic: "))", ")" or "]"
    at_command: bool = True  # code frames: the next word is a command name
    in_word: bool = False
    bracket: int = 0  # open `[` in the current word (an array subscript is arithmetic)
    mode: str = ""  # code frames: "let", "eval", "decl", "decl_int" for the current command
    pending: list[tuple[str, bool, bool]] = field(default_factory=list)  # heredocs to read


_REFUSING = {
    "single": Place.SINGLE,
    "ansi": Place.SINGLE,
    "backtick": Place.BACKTICK,
    "param": Place.PARAMETER,
    "arith": Place.ARITHMETIC,
    "test": Place.TEST,
}
_MODES = {"let": Place.ARITHMETIC, "decl_int": Place.ARITHMETIC, "eval": Place.EVAL}
_CODE_KINDS = frozenset({"code", "subst", "test"})


def _place_of(stack: list[_Frame]) -> Place:
    for frame in reversed(stack):
        refused = _REFUSING.get(frame.kind) or _MODES.get(frame.mode)
        if refused is not None:
            return refused
        if frame.kind in _CODE_KINDS and frame.bracket:
            return Place.ARITHMETIC
    inner = stack[-1]
    if inner.kind == "heredoc":
        return Place.QUOTED_HEREDOC if inner.pending[0][1] else Place.DOUBLE
    return Place.DOUBLE if inner.kind == "double" else Place.CODE


def _read_word(text: str, pos: int) -> str:
    end = pos
    while end < len(text) and text[end] not in _WORD_END:
        end += 1
    return text[pos:end]


def _heredoc_word(text: str, pos: int) -> tuple[int, str, bool, bool]:
    """After `<<` or `<<-`: (end, delimiter, quoted, contains an expression)."""
    while pos < len(text) and text[pos] in " \t":
        pos += 1
    chars: list[str] = []
    quoted = False
    quote = ""
    while pos < len(text):
        char = text[pos]
        if quote:
            if char == quote:
                quote = ""
            else:
                chars.append(char)
        elif char in "'\"":
            quote, quoted = char, True
        elif char == "\\" and pos + 1 < len(text):
            quoted = True
            pos += 1
            chars.append(text[pos])
        elif char in " \t\n;&|()<>":
            break
        else:
            chars.append(char)
        pos += 1
    word = "".join(chars)
    return pos, word, quoted, MARK in word


def _heredoc_line(text: str, pos: int, stack: list[_Frame], found: list[Place]) -> int:
    """Read one line of a here-document body; pop the frame at its delimiter line."""
    frame = stack[-1]
    delimiter, quoted, strip_tabs = frame.pending[0]
    end = text.find("\n", pos)
    end = len(text) if end < 0 else end
    line = text[pos:end]
    if (line.lstrip("\t") if strip_tabs else line) == delimiter:
        frame.pending.pop(0)
        frame.depth = 0
        if not frame.pending:
            stack.pop()
        return end + 1
    index = pos
    while index < end:
        char = text[index]
        if char == MARK:
            found.append(_place_of(stack) if frame.depth == 0 else Place.PARAMETER)
        elif quoted:
            pass
        elif char == "\\":
            index += 1
        elif char == "$" and text.startswith(("$(", "${", "$["), index):
            frame.depth += 1
            index += 1
        elif char == "`":
            frame.depth += 1 if frame.depth == 0 else -1
        elif char in ")}]" and frame.depth:
            frame.depth -= 1
        index += 1
    return end + 1


def _open_dollar(text: str, pos: int, stack: list[_Frame]) -> int:
    """At a `$`: push what it opens and return the next position."""
    if text.startswith("$((", pos):
        stack.append(_Frame("arith", closer="))"))
        return pos + 3
    if text.startswith("$(", pos):
        stack.append(_Frame("subst"))
        return pos + 2
    if text.startswith("${", pos):
        stack.append(_Frame("param"))
        return pos + 2
    if text.startswith("$[", pos):
        stack.append(_Frame("arith", closer="]"))
        return pos + 2
    if text.startswith("$'", pos) and stack[-1].kind != "double":
        stack.append(_Frame("ansi"))
        return pos + 2
    return pos + 1


def _quoted_step(text: str, pos: int, stack: list[_Frame], found: list[Place]) -> int:
    """One step inside a quote, backticks, `${ }` or arithmetic."""
    frame, char = stack[-1], text[pos]
    kind = frame.kind
    if char == MARK:
        found.append(_place_of(stack))
    elif kind in ("single", "ansi"):
        return _literal_step(text, pos, stack)
    elif char == "\\":
        return pos + 2
    elif (kind, char) in (("backtick", "`"), ("double", '"')):
        stack.pop()
    elif char == "$":
        return _open_dollar(text, pos, stack)
    elif char == "`":
        stack.append(_Frame("backtick"))
    elif kind == "param":
        return _param_step(text, pos, stack)
    elif kind == "arith":
        return _arith_step(text, pos, frame, stack)
    return pos + 1


def _literal_step(text: str, pos: int, stack: list[_Frame]) -> int:
    """Inside '…' (nothing is special but the closing quote) or $'…' (backslash escapes)."""
    char = text[pos]
    if char == "\\" and stack[-1].kind == "ansi":
        return pos + 2
    if char == "'":
        stack.pop()
    return pos + 1


def _param_step(text: str, pos: int, stack: list[_Frame]) -> int:
    frame, char = stack[-1], text[pos]
    if char == "'":
        stack.append(_Frame("single"))
    elif char == '"':
        stack.append(_Frame("double"))
    elif char == "{":
        frame.depth += 1
    elif char == "}":
        if frame.depth == 0:
            stack.pop()
        else:
            frame.depth -= 1
    return pos + 1


def _arith_step(text: str, pos: int, frame: _Frame, stack: list[_Frame]) -> int:
    char = text[pos]
    if char in "([":
        frame.depth += 1
    elif frame.depth == 0 and text.startswith(frame.closer, pos):
        stack.pop()
        return pos + len(frame.closer)
    elif char in ")]" and frame.depth:
        frame.depth -= 1
    return pos + 1


_KEYWORDS = frozenset({"if", "then", "else", "elif", "while", "until", "do", "!", "{", "time"})
_DECLARE = frozenset({"declare", "typeset", "local", "readonly", "export"})


def _end_word(frame: _Frame, char: str) -> None:
    frame.in_word = False
    frame.bracket = 0
    if char in _COMMAND_SEPARATORS:
        frame.at_command = True
        frame.mode = ""


def _command_mode(frame: _Frame, word: str, names: set[str]) -> None:
    """Remember what the words of this command mean: arithmetic, eval, integer declarations."""
    if frame.at_command:
        if word in _KEYWORDS:
            return
        name = word.split("=", 1)[0].removesuffix("+")
        if "=" in word and name in names:
            frame.mode = "let"  # an assignment to an integer variable is arithmetic
            return
        frame.at_command = False
        frame.mode = {"let": "let", "eval": "eval"}.get(word, "decl" if word in _DECLARE else "")
    elif frame.mode == "decl" and word.startswith("-") and "i" in word:
        frame.mode = "decl_int"
    elif frame.mode == "decl_int" and not word.startswith("-"):
        names.add(word.split("=", 1)[0].removesuffix("+"))


def _code_word(text: str, pos: int, stack: list[_Frame], names: set[str]) -> int:
    """A plain chunk of a word in a code frame: notice `[[`, `]]` and command names."""
    frame = stack[-1]
    word = _read_word(text, pos)
    starts = not frame.in_word
    frame.in_word = True
    frame.bracket = max(frame.bracket + word.count("[") - word.count("]"), 0)
    if frame.kind == "test" and word == "]]" and starts:
        stack.pop()
        stack[-1].in_word = True
    elif word == "[[" and starts:
        frame.bracket = 0
        stack.append(_Frame("test", at_command=False))
    elif starts:
        _command_mode(frame, word, names)
    return pos + max(len(word), 1)


def _code_step(
    text: str, pos: int, stack: list[_Frame], found: list[Place], names: set[str]
) -> int:
    """One step in a code frame (the script, `$( )` or `[[ ]]`)."""
    frame, char = stack[-1], text[pos]
    if char == MARK:
        found.append(_place_of(stack))
        if not frame.in_word:
            frame.at_command = False
        frame.in_word = True
    elif char == "\\":
        if not text.startswith("\\\n", pos):
            frame.in_word, frame.at_command = True, False
        return pos + 2
    elif char == "#" and not frame.in_word:
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        found.extend(Place.COMMENT for _ in range(text.count(MARK, pos, end)))
        return end
    elif char in "'\"`$":
        if not frame.in_word:
            frame.at_command = False
        frame.in_word = True
        if char == "$":
            return _open_dollar(text, pos, stack)
        stack.append(_Frame({"'": "single", '"': "double", "`": "backtick"}[char]))
    elif char in " \t\n;&|()<>":
        return _operator_step(text, pos, stack, found)
    else:
        return _code_word(text, pos, stack, names)
    return pos + 1


def _operator_step(text: str, pos: int, stack: list[_Frame], found: list[Place]) -> int:
    """Blanks and operators: here-documents, `((`, the parentheses of `$( )`, newlines."""
    frame, char = stack[-1], text[pos]
    if text.startswith("<<", pos) and not text.startswith("<<<", pos):
        strip = text.startswith("<<-", pos)
        end, word, quoted, marked = _heredoc_word(text, pos + (3 if strip else 2))
        if marked:
            found.extend(Place.HEREDOC_WORD for _ in range(word.count(MARK)))
        frame.pending.append((word, quoted, strip))
        frame.in_word = False
        return end
    if text.startswith("((", pos):
        stack.append(_Frame("arith", closer="))"))
        return pos + 2
    if char == ")" and frame.kind == "subst" and frame.depth == 0:
        stack.pop()
        stack[-1].in_word = True
        return pos + 1
    if frame.kind == "subst" and char in "()":
        frame.depth += 1 if char == "(" else -1
    _end_word(frame, char)
    if char == "\n" and frame.pending:
        stack.append(_Frame("heredoc", pending=frame.pending))
        frame.pending = []
    return pos + 1


def places(skeleton: str) -> list[Place]:
    """The `Place` of each `MARK` in `skeleton` (a script with expressions replaced), in order."""
    stack = [_Frame("code")]
    found: list[Place] = []
    names: set[str] = set()  # variables declared integer (`declare -i`): assigning is arithmetic
    pos = 0
    while pos < len(skeleton):
        kind = stack[-1].kind
        if kind == "heredoc":
            pos = _heredoc_line(skeleton, pos, stack, found)
        elif kind in _CODE_KINDS:
            pos = _code_step(skeleton, pos, stack, found, names)
        else:
            pos = _quoted_step(skeleton, pos, stack, found)
    return found


def is_posix_shell(shell: str | None) -> bool:
    """Whether `shell:` names an interpreter that reads `run:` as a POSIX shell script."""
    if not shell or not shell.strip():
        return True
    program = shell.split()[0].rsplit("/", 1)[-1]
    return program in POSIX_SHELLS
