"""`${{ }}` in a `run:` script: values reach the shell as environment variables, never as text.

`render_script` replaces the i-th expression by a reference to `$BASIR_EXPR_<i>` and returns
the values to set in the attempt's environment.  The shell expands a variable's value exactly
once, as data — `$(…)`, backticks, quotes, `;` or a newline inside it are just characters —
so no value can run as code.  The reference depends on the place (`shell_lexer.Place`):

* an unquoted word (`echo ${{ x }}`, `X=${{ x }}`, `$(cmd ${{ x }})`) becomes
  `${BASIR_EXPR_0+"$BASIR_EXPR_0"}`: one word, never split or globbed; a null value leaves
  the variable unset, so the reference expands to no word at all (an optional argument);
* inside double quotes or an unquoted here-document it becomes `${BASIR_EXPR_0}`;
* inside shell arithmetic (`$(( ))`, `(( ))`, `let`, `declare -i`, array subscripts,
  `[[ a -eq b ]]`) it becomes `${BASIR_EXPR_0}` too, and the value must be a whole number
  (checked when the attempt is rendered): bash would evaluate any other text as code.

Every other place is refused (`refusals`, run by validation and again before each attempt):
single quotes and quoted here-documents would not expand the reference; a comment ignores it;
`eval`, `ssh` and the script word of `sh -c` / `python -c` / `node -e` would run the value
as code;
backticks and `${ … }` nest quoting rules the lexer does not follow.  An
interpreter that is not a POSIX shell (`shell: python`) cannot take references at all: pass
values through `env:` and read the variable there.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from basir.i18n import _
from basir.spec.expr_size import text_length
from basir.spec.expr_syntax import ExpressionError
from basir.spec.expr_values import Budget, to_str
from basir.spec.shell_lexer import ALLOWED, MARK, Place, is_posix_shell, places

PLACEMENT_CODE = "expr.placement"
VARIABLE_PREFIX = "BASIR_EXPR_"


@dataclass(frozen=True, slots=True)
class Refusal:
    """An expression of a script that stands where it cannot be passed safely."""

    index: int  # which `${{ }}` of the script, from 0
    line: int  # line of the script, from 1
    col: int  # column in that line, from 1
    place: Place
    message: str


def placement_message(place: Place, shell: str | None = None) -> str:
    """Why an expression cannot stand at `place`, and how to write it instead."""
    messages = {
        Place.SINGLE: _(
            "inside single quotes the shell would not expand it: put the expression outside "
            "the quotes ('text '${{ … }}) or use double quotes"
        ),
        Place.QUOTED_HEREDOC: _(
            "a here-document with a quoted delimiter (<<'EOF') does not expand it: "
            "write the delimiter without quotes (<<EOF)"
        ),
        Place.ESCAPED: _(
            "a backslash right before it would make the shell print the reference, not the "
            "value: remove the backslash"
        ),
        Place.DYNAMIC_COMMAND: _(
            "the command's name is an expansion ($CMD, $(…)), which could be eval or a shell "
            "running its arguments as code: call the program by its name"
        ),
        Place.ARRAY: _(
            "inside an array assignment NAME=( … ) it cannot be passed safely: assign it to "
            'a variable first (X=${{ … }}) and write "$X" in the array'
        ),
        Place.UNCLOSED: _(
            "the script ends inside an unclosed quote, $( … ), ${ … }, backticks or [[ … ]]: "
            "close it, or the shell would read the rest of the script differently"
        ),
        Place.HEREDOC_WORD: _("the delimiter of a here-document cannot be an expression"),
        Place.COMMENT: _("it is inside a comment, which the shell ignores: move it out"),
        Place.BACKTICK: _("inside backticks it cannot be passed safely: use $( … ) instead"),
        Place.PARAMETER: _(
            "inside ${ … } or a substitution in a here-document it cannot be passed safely: "
            "assign it to a variable first (X=${{ … }}) and use $X there"
        ),
        Place.EVAL: _(
            "eval, ssh and the script of sh -c, python -c or node -e would run the value as "
            "code: pass it as a separate argument instead, e.g. sh -c 'echo \"$1\"' sh ${{ … }}"
        ),
        Place.INTERPRETER: _(
            "{shell} is not a POSIX shell, so run: cannot hold expressions: pass the value in "
            "env: (NAME: ${{{{ … }}}}) and read the variable NAME in the script",
            shell=shell or "",
        ),
    }
    return messages.get(place, "")


def _skeleton(pieces: list[str | Any]) -> str:
    return "".join(piece if isinstance(piece, str) else MARK for piece in pieces)


@functools.lru_cache(maxsize=1024)
def _places(skeleton: str, posix: bool) -> tuple[Place, ...]:
    """Cached: the tasks of a `foreach` or a big workflow often share one script."""
    return tuple(places(skeleton)) if posix else (Place.INTERPRETER,) * skeleton.count(MARK)


def refusals(pieces: list[str | Any], shell: str | None) -> list[Refusal]:
    """Each expression of a split script (`expressions.split_template`) that is refused."""
    found = _places(_skeleton(pieces), is_posix_shell(shell))
    refused: list[Refusal] = []
    offset, line, line_start, index = 0, 1, 0, 0
    for piece in pieces:
        if isinstance(piece, str):
            line += piece.count("\n")
            if "\n" in piece:
                line_start = offset + piece.rindex("\n") + 1
            offset += len(piece)
            continue
        place = found[index] if index < len(found) else Place.COMMENT
        if place not in ALLOWED:
            message = placement_message(place, shell)
            refused.append(Refusal(index, line, offset - line_start + 1, place, message))
        index += 1
        offset += 1
    return refused


_WHOLE = re.compile(r"-?[0-9]{1,18}")


def whole_number(value: Any) -> str:
    """A value used in shell arithmetic: a whole number's digits, else `expr.placement`.

    bash evaluates the *text* of a variable inside arithmetic, recursively, so anything but
    digits there (`a[$(cmd)]`) would run as code.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    else:
        text = value if isinstance(value, str) else ""
    if not _WHOLE.fullmatch(text.strip()):
        shown = (
            text[:40] if text else to_str(value)[:40] if not isinstance(value, list | dict) else ""
        )
        raise ExpressionError(
            PLACEMENT_CODE,
            _(
                "in shell arithmetic an expression must give a whole number, got {value}",
                value=repr(shown),
            ),
        )
    return text.strip()


def reference(index: int, place: Place) -> str:
    """The text that stands for expression `index` at an allowed `place`."""
    name = f"{VARIABLE_PREFIX}{index}"
    return f'${{{name}+"${name}"}}' if place is Place.CODE else f"${{{name}}}"


def render_script(
    pieces: list[str | Any],
    shell: str | None,
    evaluate: Any,
) -> tuple[str, dict[str, str]]:
    """The script with references, and the `BASIR_EXPR_<i>` values to set for the attempt.

    `evaluate(source)` gives the value of one expression.  Raises ExpressionError
    (`expr.placement`) when an expression stands where it cannot be passed safely.
    """
    if not any(not isinstance(piece, str) for piece in pieces):
        return "".join(pieces), {}
    refused = refusals(pieces, shell)
    if refused:
        first = refused[0]
        raise ExpressionError(
            PLACEMENT_CODE,
            _("line {line} of the script: {message}", line=first.line, message=first.message),
        )
    found = _places(_skeleton(pieces), True)
    out: list[str] = []
    values: dict[str, str] = {}
    index, budget = 0, Budget()
    for piece in pieces:
        if isinstance(piece, str):
            out.append(piece)
            continue
        value = evaluate(piece.source)
        place = found[index]
        if place is Place.ARITHMETIC:
            value = whole_number(value)
        if value is not None or place is not Place.CODE:
            text_length(value, budget)  # bounded before the text is built
            text = to_str(value)
            if "\x00" in text:
                raise ExpressionError(
                    "expr.type", _("a value passed to a shell cannot contain a NUL character")
                )
            values[f"{VARIABLE_PREFIX}{index}"] = text
        out.append(reference(index, place))
        index += 1
    return "".join(out), values
