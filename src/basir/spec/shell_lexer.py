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

import re
from enum import StrEnum

from basir.spec.shell_commands import (
    ASSIGNMENT,
    UNKNOWN,
    Frame,
    assigned_name,
    end_command,
    end_word,
    record_mark,
    start_word,
)

MARK = "\x00"  # stands for one `${{ }}`; a script can never hold NUL itself
_WORD_END = frozenset(" \t\n;&|()<>\"'`$\\" + MARK)
_COMMAND_SEPARATORS = frozenset(";&|(\n")
# Runs of characters with no meaning to the lexer, skipped at C speed.
_WORD_CHUNK = re.compile(r"[^ \t\n;&|()<>\"'`$\\\x00]+")
_PLAIN = {
    "double": re.compile(r"[^\"\\$`\x00]+"),
    "single": re.compile(r"[^'\x00]+"),
    "ansi": re.compile(r"[^'\\\x00]+"),
}


class Place(StrEnum):
    """Where an expression stands in a script."""

    CODE = "code"  # an unquoted word of a command
    DOUBLE = "double"  # inside "…" or an unquoted here-document
    SINGLE = "single"  # inside '…' or $'…'
    QUOTED_HEREDOC = "quoted_heredoc"  # a here-document with a quoted delimiter
    HEREDOC_WORD = "heredoc_word"  # the delimiter word of a here-document itself
    COMMENT = "comment"
    ARITHMETIC = "arithmetic"  # $(( )), (( )), $[ ], let, [[ -eq ]]: whole numbers only
    BACKTICK = "backtick"
    ESCAPED = "escaped"  # right after a backslash
    EVAL = "eval"  # run as code again: eval, ssh, the script of `sh -c` / `python -c`
    DYNAMIC_COMMAND = "dynamic_command"  # an argument of a command named by an expansion
    PARAMETER = "parameter"  # inside ${ … }
    ARRAY = "array"  # inside an array assignment NAME=( … )
    UNCLOSED = "unclosed"  # the script ends inside a quote, `$(`, `${`, `[[`, …
    INTERPRETER = "interpreter"  # the interpreter is not a POSIX shell


# ARITHMETIC is allowed for whole numbers only: the renderer checks the value (bash would
# evaluate any other text in it as code: `a[$(cmd)]`).
ALLOWED = frozenset({Place.CODE, Place.DOUBLE, Place.ARITHMETIC})
_TEST_ARITHMETIC = frozenset({"-eq", "-ne", "-lt", "-le", "-gt", "-ge"})
POSIX_SHELLS = frozenset({"sh", "bash", "dash", "ash", "ksh", "mksh", "zsh"})


_REFUSING = {
    "single": Place.SINGLE,
    "ansi": Place.SINGLE,
    "backtick": Place.BACKTICK,
    "param": Place.PARAMETER,
    "arith": Place.ARITHMETIC,
    "array": Place.ARRAY,
}
_MODES = {
    "let": Place.ARITHMETIC,
    "decl_int": Place.ARITHMETIC,
    "eval": Place.EVAL,
    "runner_script": Place.EVAL,
    "ssh": Place.EVAL,
    "dynamic": Place.DYNAMIC_COMMAND,
}
_CODE_KINDS = frozenset({"code", "subst", "test"})


def _place_of(stack: list[Frame]) -> Place:
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


def _record(stack: list[Frame], found: list[Place]) -> None:
    """The place of an expression; its pipeline may still turn out to feed an interpreter."""
    for frame in reversed(stack):
        if frame.kind in _CODE_KINDS:
            record_mark(frame, len(found))
            break
    found.append(_place_of(stack))


def _read_word(text: str, pos: int) -> str:
    match = _WORD_CHUNK.match(text, pos)
    return match.group() if match else ""


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


def _heredoc_line(text: str, pos: int, stack: list[Frame], found: list[Place]) -> int:
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
            place = _place_of(stack) if frame.depth == 0 else Place.PARAMETER
            found.append(Place.EVAL if frame.code_heredocs and place in ALLOWED else place)
        elif quoted:
            pass
        elif char == "\\":
            index += 1
            if text.startswith(MARK, index):
                found.append(Place.ESCAPED)
        elif char == "$" and text.startswith(("$(", "${", "$["), index):
            frame.depth += 1
            index += 1
        elif char == "`":
            frame.depth += 1 if frame.depth == 0 else -1
        elif char in ")}]" and frame.depth:
            frame.depth -= 1
        index += 1
    return end + 1


def _open_dollar(text: str, pos: int, stack: list[Frame]) -> int:
    """At a `$`: push what it opens and return the next position."""
    if text.startswith("$((", pos):
        stack.append(Frame("arith", closer="))"))
        return pos + 3
    if text.startswith("$(", pos):
        stack.append(Frame("subst"))
        return pos + 2
    if text.startswith("${", pos):
        stack.append(Frame("param"))
        return pos + 2
    if text.startswith("$[", pos):
        stack.append(Frame("arith", closer="]"))
        return pos + 2
    if text.startswith("$'", pos) and stack[-1].kind != "double":
        stack.append(Frame("ansi"))
        return pos + 2
    return pos + 1


def _spell(stack: list[Frame], chars: str) -> None:
    """Add to the current word of the code frame right under a quote (`"l"et` is `let`)."""
    if len(stack) > 1 and stack[-2].kind in _CODE_KINDS:
        stack[-2].word += chars


def _quoted_step(text: str, pos: int, stack: list[Frame], found: list[Place]) -> int:
    """One step inside a quote, backticks, `${ }` or arithmetic."""
    frame, char = stack[-1], text[pos]
    kind = frame.kind
    if kind == "double" and char not in '"\\$`':
        _spell(stack, UNKNOWN if char == MARK else char)
    elif kind == "double" and char in "$`":
        _spell(stack, UNKNOWN)
    if char == MARK:
        _record(stack, found)
    elif kind in ("single", "ansi"):
        return _literal_step(text, pos, stack, found)
    elif char == "\\":
        return _escape(text, pos, found)
    elif (kind, char) in (("backtick", "`"), ("double", '"')):
        stack.pop()
    elif char == "$":
        return _open_dollar(text, pos, stack)
    elif char == "`":
        stack.append(Frame("backtick"))
    elif kind == "param":
        return _param_step(text, pos, stack)
    elif kind == "array":
        return _array_step(text, pos, stack)
    elif kind == "arith":
        return _arith_step(text, pos, frame, stack)
    return pos + 1


def _literal_step(text: str, pos: int, stack: list[Frame], found: list[Place]) -> int:
    """Inside '…' (nothing is special but the closing quote) or $'…' (backslash escapes)."""
    char = text[pos]
    if char == "\\" and stack[-1].kind == "ansi":
        if text.startswith(MARK, pos + 1):
            found.append(Place.SINGLE)
        _spell(stack, UNKNOWN)
        return pos + 2
    if char == "'":
        stack.pop()
    else:
        _spell(stack, char)
    return pos + 1


def _escape(text: str, pos: int, found: list[Place]) -> int:
    """A backslash and the character it escapes; an escaped expression is refused."""
    if text.startswith(MARK, pos + 1):
        found.append(Place.ESCAPED)
    return pos + 2


def _param_step(text: str, pos: int, stack: list[Frame]) -> int:
    frame, char = stack[-1], text[pos]
    if char == "'":
        stack.append(Frame("single"))
    elif char == '"':
        stack.append(Frame("double"))
    elif char == "{":
        frame.depth += 1
    elif char == "}":
        if frame.depth == 0:
            stack.pop()
        else:
            frame.depth -= 1
    return pos + 1


def _array_step(text: str, pos: int, stack: list[Frame]) -> int:
    frame, char = stack[-1], text[pos]
    if char in "'\"":
        stack.append(Frame("single" if char == "'" else "double"))
    elif char == "(":
        frame.depth += 1
    elif char == ")":
        if frame.depth == 0:
            stack.pop()
        else:
            frame.depth -= 1
    return pos + 1


def _arith_step(text: str, pos: int, frame: Frame, stack: list[Frame]) -> int:
    char = text[pos]
    if char in "([":
        frame.depth += 1
    elif frame.depth == 0 and text.startswith(frame.closer, pos):
        stack.pop()
        return pos + len(frame.closer)
    elif char in ")]" and frame.depth:
        frame.depth -= 1
    return pos + 1


def _end_test(frame: Frame) -> None:
    """`[[ a -eq b ]]` evaluates its operands as arithmetic: its expressions are numbers."""
    if frame.arith_test:
        for index in (*frame.marks, *frame.command_marks):
            if frame.found[index] in (Place.CODE, Place.DOUBLE):
                frame.found[index] = Place.ARITHMETIC


def _code_word(text: str, pos: int, stack: list[Frame], found: list[Place], names: set[str]) -> int:
    """A plain chunk of a word in a code frame: notice `[[`, `]]` and integer assignments."""
    frame = stack[-1]
    chunk = _read_word(text, pos)
    starts = not frame.in_word
    if frame.kind == "test" and chunk == "]]" and starts:
        _end_test(stack.pop())
        stack[-1].in_word = True
    elif frame.kind == "test" and chunk in _TEST_ARITHMETIC and starts:
        frame.arith_test = True
        frame.in_word = True
    elif chunk == "[[" and starts and frame.at_command and not frame.redirect:
        frame.in_word = True
        stack.append(Frame("test", at_command=False, found=found))
    else:
        start_word(frame, flag=starts and chunk.startswith("-"))
        frame.word += chunk
        frame.bracket = max(frame.bracket + chunk.count("[") - chunk.count("]"), 0)
        assigns = starts and frame.at_command and ASSIGNMENT.match(chunk)
        if assigns and assigned_name(chunk) in names:
            frame.mode = "let"  # assigning to an integer variable is arithmetic
    return pos + max(len(chunk), 1)


def _code_step(text: str, pos: int, stack: list[Frame], found: list[Place], names: set[str]) -> int:
    """One step in a code frame (the script, `$( )` or `[[ ]]`)."""
    frame, char = stack[-1], text[pos]
    if char in " \t":  # the common case first: a blank ends a word, nothing else
        end_word(frame, names)
        return pos + 1
    if char == MARK:
        start_word(frame)
        frame.word += UNKNOWN
        _record(stack, found)
    elif char == "\\":
        if not text.startswith("\\\n", pos):
            start_word(frame)
            frame.word += text[pos + 1 : pos + 2]
        return _escape(text, pos, found)
    elif char == "#" and not frame.in_word:
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        found.extend(Place.COMMENT for _ in range(text.count(MARK, pos, end)))
        return end
    elif char in "'\"`$":
        start_word(frame)
        if char in "`$":
            frame.word += UNKNOWN
        if char == "$":
            return _open_dollar(text, pos, stack)
        stack.append(Frame({"'": "single", '"': "double", "`": "backtick"}[char]))
    elif char in " \t\n;&|()<>":
        return _operator_step(text, pos, stack, found, names)
    else:
        return _code_word(text, pos, stack, found, names)
    return pos + 1


_REDIRECTIONS = ("&>>", "&>", ">&", "<&", ">|", ">>", "<>", ">", "<")
_SEPARATORS = ("&&", "||", ";;", "|&", ";", "&", "|", "\n")


def _operator_step(
    text: str, pos: int, stack: list[Frame], found: list[Place], names: set[str]
) -> int:
    """Blanks and operators: here-documents, redirections, `((`, `$( )`, separators."""
    frame, char = stack[-1], text[pos]
    if text.startswith("<<<", pos):  # a here-string: the next word is the input
        end_word(frame, names)
        frame.redirect = True
        return pos + 3
    if text.startswith("<<", pos):
        strip = text.startswith("<<-", pos)
        end, word, quoted, marked = _heredoc_word(text, pos + (3 if strip else 2))
        if marked:
            found.extend(Place.HEREDOC_WORD for _ in range(word.count(MARK)))
        frame.pending.append((word, quoted, strip))
        end_word(frame, names)
        return end
    if text.startswith("((", pos):
        stack.append(Frame("arith", closer="))"))
        return pos + 2
    if char == "(" and frame.in_word and ASSIGNMENT.fullmatch(frame.word):
        stack.append(Frame("array"))  # NAME=( … ): the word goes on after the `)`
        return pos + 1
    end_word(frame, names)
    if char == ")" and frame.kind == "subst" and frame.depth == 0:
        _end_command(frame, found, pipe=False)
        stack.pop()
        start_word(stack[-1])
        return pos + 1
    redirection = next((op for op in _REDIRECTIONS if text.startswith(op, pos)), None)
    if redirection is not None:
        frame.redirect = True
        return pos + len(redirection)
    separator = next((op for op in _SEPARATORS if text.startswith(op, pos)), None)
    if separator is not None or char in "()":
        _end_command(frame, found, pipe=separator in ("|", "|&"))
    if frame.kind == "subst" and char in "()":
        frame.depth += 1 if char == "(" else -1
    if char == "\n" and frame.pending:
        heredocs = Frame("heredoc", pending=frame.pending, code_heredocs=frame.code_heredocs)
        stack.append(heredocs)
        frame.pending = []
    return pos + len(separator or char)


def _end_command(frame: Frame, found: list[Place], *, pipe: bool) -> None:
    for index in end_command(frame, pipe):
        if found[index] in ALLOWED:
            found[index] = Place.EVAL


def places(skeleton: str) -> list[Place]:
    """The `Place` of each `MARK` in `skeleton` (a script with expressions replaced), in order."""
    stack = [Frame("code")]
    found: list[Place] = []
    names: set[str] = set()  # variables declared integer (`declare -i`): assigning is arithmetic
    pos = 0
    while pos < len(skeleton):
        kind = stack[-1].kind
        if kind == "heredoc":
            pos = _heredoc_line(skeleton, pos, stack, found)
        elif kind in _CODE_KINDS:
            pos = _code_step(skeleton, pos, stack, found, names)
        elif kind in _PLAIN and (plain := _PLAIN[kind].match(skeleton, pos)):
            _spell(stack, plain.group())
            pos = plain.end()
        else:
            pos = _quoted_step(skeleton, pos, stack, found)
    for frame in reversed(stack):
        if frame.kind in _CODE_KINDS:
            end_word(frame, names)
            _end_command(frame, found, pipe=False)
    if any(frame.kind not in ("code", "heredoc") for frame in stack):
        # A shell recovering from the syntax error may read a quoted reference unquoted.
        found = [Place.UNCLOSED if place in ALLOWED else place for place in found]
    return found


def is_posix_shell(shell: str | None) -> bool:
    """Whether `shell:` names an interpreter that reads `run:` as a POSIX shell script."""
    if not shell or not shell.strip():
        return True
    program = shell.split()[0].rsplit("/", 1)[-1]
    return program in POSIX_SHELLS
