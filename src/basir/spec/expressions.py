"""`${{ … }}` expressions: the sandboxed language of DESIGN.md §4, its public face.

* `parse(text)` → an immutable AST (cached); `evaluate(expr, context)` → a JSON value.
* `render(value, context)` walks strings, lists and objects.  A string that is
  exactly one `${{ e }}` keeps the value's type; otherwise each `${{ }}` is replaced by its
  text form (JSON for lists and objects, `true` / `false`, '' for null).
* `render_run(script, context, shell=…)` is for `run:` scripts: a value never becomes script
  text.  Each `${{ }}` becomes a reference to an environment variable `BASIR_EXPR_<i>` whose
  value is returned beside the script (see `spec.shell_script`); places where a reference
  could not be passed safely (single quotes, arithmetic, …) are refused with
  `expr.placement`.  Null in an unquoted word adds no word, so
  `${{ '--flag' if x else null }}` adds an optional argument.
* Budgets: 4,096 characters and 1,000 nodes per expression, 100,000 steps per evaluation,
  1 MiB per produced string, 100,000 items per produced list.  Violations, syntax errors and
  type errors all raise `ExpressionError(code, message)`, never anything else.  Codes:
  `expr.syntax`, `expr.too_long`, `expr.too_complex`, `expr.unknown_function`,
  `expr.bad_argument`, `expr.type`, `expr.division_by_zero`, `expr.budget`, `expr.too_large`,
  `expr.unavailable` (hash_files without a folder), `expr.files` (hash_files I/O),
  `expr.placement` (an expression in a `run:` script where it cannot be passed safely).

Context names used by the engine: `params`, `tasks` (`{id: {status, outputs}}`), `run`
(`{id, workflow, version}`), `env`, `secrets`, `signals`, `item`, `index` (inside `foreach`)
and `inputs` (inside templates).  A missing key is null; unknown top-level names are caught
by validation (`basir.spec.validate`), not here.  `}}` ends an expression unless it closes an
object literal opened inside it; to write a literal `${{`, use `${{ '${{' }}`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from basir.i18n import _
from basir.spec.expr_eval import Evaluator
from basir.spec.expr_size import check_total, text_length
from basir.spec.expr_syntax import (
    Expr,
    ExpressionError,
    Index,
    Literal,
    Member,
    Name,
    children,
    parse_expression,
)
from basir.spec.expr_values import MAX_ITEMS, MAX_STRING_CHARS, Budget, to_str, truthy
from basir.spec.shell_script import render_script

__all__ = [
    "CONTEXT_NAMES",
    "Expr",
    "ExpressionError",
    "evaluate",
    "evaluate_condition",
    "evaluate_foreach",
    "find_expressions",
    "parse",
    "referenced_keys",
    "referenced_roots",
    "referenced_tasks",
    "render",
    "render_run",
    "split_template",
    "to_str",
    "truthy",
]

CONTEXT_NAMES = frozenset(
    {"params", "tasks", "run", "env", "secrets", "signals", "item", "index", "inputs"}
)
OPEN, CLOSE = "${{", "}}"


@functools.lru_cache(maxsize=4096)
def parse(text: str) -> Expr:
    """Parse the inside of a `${{ … }}` (surrounding `${{ }}` are accepted too); cached."""
    inner = text.strip()
    if inner.startswith(OPEN) and inner.endswith(CLOSE):
        pieces = split_template(inner)
        if len(pieces) == 1 and isinstance(pieces[0], Piece):
            inner = pieces[0].source
    return parse_expression(inner)


@dataclass(frozen=True, slots=True)
class Piece:
    """One `${{ … }}` inside a string: its source text (without the braces)."""

    source: str


def _closing(text: str, pos: int) -> int:
    depth = 0
    quote = ""
    while pos < len(text):
        char = text[pos]
        if quote:
            if char == "\\":
                pos += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            if depth:
                depth -= 1
            elif text.startswith(CLOSE, pos):
                return pos
        pos += 1
    raise ExpressionError("expr.syntax", _("unterminated ${{ … }}: add the closing }}"))


def split_template(text: str) -> list[str | Piece]:
    """Split a string into literal text and `Piece`s; ExpressionError for an unclosed `${{`."""
    pieces: list[str | Piece] = []
    pos = 0
    while (start := text.find(OPEN, pos)) >= 0:
        if start > pos:
            pieces.append(text[pos:start])
        end = _closing(text, start + len(OPEN))
        pieces.append(Piece(text[start + len(OPEN) : end].strip()))
        pos = end + len(CLOSE)
    if pos < len(text):
        pieces.append(text[pos:])
    return pieces


def find_expressions(text: str) -> list[str]:
    """The sources of all `${{ … }}` in `text`, in order (not yet parsed)."""
    return [piece.source for piece in split_template(text) if isinstance(piece, Piece)]


def evaluate(
    expression: str | Expr, context: Mapping[str, Any], *, files_root: Path | None = None
) -> Any:
    """Evaluate one expression over `context`; `files_root` enables `hash_files` (blocking I/O)."""
    tree = parse(expression) if isinstance(expression, str) else expression
    try:
        return Evaluator(context, Budget(files_root=files_root)).eval(tree)
    except RecursionError:
        # Deep *context data* (not the expression) compared or serialised.
        raise ExpressionError("expr.too_complex", _("value nested too deeply")) from None


def _render_string(text: str, context: Mapping[str, Any], files_root: Path | None) -> Any:
    pieces = split_template(text)
    if len(pieces) == 1 and isinstance(pieces[0], Piece):
        return evaluate(pieces[0].source, context, files_root=files_root)
    out: list[str] = []
    total, budget = 0, Budget()
    for piece in pieces:
        if isinstance(piece, Piece):
            value = evaluate(piece.source, context, files_root=files_root)
            total += text_length(value, budget, MAX_STRING_CHARS - total)  # before building
            out.append(to_str(value))
        else:
            total = check_total(total + len(piece))
            out.append(piece)
    return "".join(out)


def render(value: Any, context: Mapping[str, Any], *, files_root: Path | None = None) -> Any:
    """Substitute every `${{ … }}` in strings of `value` (walking lists and objects; keys stay).

    Never for a `run:` script: use `render_run`, which keeps values out of the script text.
    """
    if isinstance(value, str):
        if OPEN not in value:
            return value
        return _render_string(value, context, files_root)
    if isinstance(value, list | tuple):
        return [render(item, context, files_root=files_root) for item in value]
    if isinstance(value, Mapping):
        return {key: render(item, context, files_root=files_root) for key, item in value.items()}
    return value


def render_run(
    script: str,
    context: Mapping[str, Any],
    *,
    shell: str | None = None,
    files_root: Path | None = None,
) -> tuple[str, dict[str, str]]:
    """A `run:` script with each `${{ }}` replaced by a variable reference, and their values.

    Set the returned `BASIR_EXPR_<i>` values in the environment of the process running the
    script; ExpressionError `expr.placement` when an expression stands where it cannot be
    passed safely (`spec.shell_script`).
    """
    if OPEN not in script:
        return script, {}
    return render_script(
        split_template(script),
        shell,
        lambda source: evaluate(source, context, files_root=files_root),
    )


def condition_source(value: str) -> str:
    """The expression of an `if:` string: `${{ e }}` or, GitHub-style, the bare text `e`."""
    pieces = split_template(value.strip())
    if len(pieces) == 1 and isinstance(pieces[0], Piece):
        return pieces[0].source
    return value if OPEN not in value else ""


def evaluate_condition(
    value: str | bool | None, context: Mapping[str, Any], *, files_root: Path | None = None
) -> bool:
    """Whether an `if:` holds: absent → true; `${{ e }}` or bare `e` → truthiness of e."""
    if value is None or isinstance(value, bool):
        return value is not False
    source = condition_source(value)
    if source:
        return truthy(evaluate(source, context, files_root=files_root))
    return truthy(render(value, context, files_root=files_root))


def evaluate_foreach(
    value: str | list[Any], context: Mapping[str, Any], *, files_root: Path | None = None
) -> list[Any]:
    """The items of a `foreach:` — a list, or a string holding a JSON list; ExpressionError else."""
    result = render(value, context, files_root=files_root)
    if isinstance(result, str):
        try:
            result = json.loads(result) if result.strip() else []
        except (ValueError, RecursionError):
            raise ExpressionError(
                "expr.type", _("foreach needs a list or a JSON list, got text")
            ) from None
    if not isinstance(result, list | tuple):
        raise ExpressionError("expr.type", _("foreach needs a list"))
    if len(result) > MAX_ITEMS:
        raise ExpressionError("expr.too_large", _("too many items (over {limit})", limit=MAX_ITEMS))
    return list(result)


def _walk(tree: Expr) -> list[Expr]:
    nodes, stack = [], [tree]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(children(node))
    return nodes


def _tree(expression: str | Expr) -> Expr:
    return parse(expression) if isinstance(expression, str) else expression


def referenced_roots(expression: str | Expr) -> set[str]:
    """Top-level context names the expression reads, e.g. {'params', 'tasks'}."""
    return {node.name for node in _walk(_tree(expression)) if isinstance(node, Name)}


def referenced_keys(expression: str | Expr, root: str) -> set[str]:
    """Static keys read directly under `root`: `params.x` and `params['x']` give {'x'}."""
    keys: set[str] = set()
    for node in _walk(_tree(expression)):
        if isinstance(node, Member) and node.target == Name(root):
            keys.add(node.name)
        elif (
            isinstance(node, Index)
            and node.target == Name(root)
            and isinstance(node.index, Literal)
            and isinstance(node.index.value, str)
        ):
            keys.add(node.index.value)
    return keys


def referenced_tasks(expression: str | Expr) -> set[str]:
    """Task ids referenced as `tasks.<id>` or `tasks['<id>']`."""
    return referenced_keys(expression, "tasks")
