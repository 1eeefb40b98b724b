"""A workflow's spec for reading: YAML/JSON highlighted, and the diff between two versions.

Pure and server-side: Pygments marks tokens with CSS classes (no inline style, so the CSP
stays strict; every piece of text is escaped by the formatter), and `difflib` compares two
versions' YAML line by line.  Sizes are bounded so a huge spec cannot make a huge page.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from markupsafe import Markup, escape
from pygments import highlight  # type: ignore[import-untyped]
from pygments.formatters import HtmlFormatter  # type: ignore[import-untyped]
from pygments.lexers import JsonLexer, YamlLexer  # type: ignore[import-untyped]

MAX_HIGHLIGHT_CHARS = 200_000
MAX_DIFF_LINES = 2_000
DIFF_CONTEXT = 3


def highlighted(text: str, fmt: str) -> Markup:
    """`text` as HTML spans classed by token (`k`, `s`, `c`, ...); plain escaped when huge."""
    if len(text) > MAX_HIGHLIGHT_CHARS:
        return escape(text)
    lexer = JsonLexer() if fmt == "json" else YamlLexer()
    html = highlight(text, lexer, HtmlFormatter(nowrap=True, classprefix="t-"))
    return Markup(html)  # Pygments escapes every token it emits


@dataclass(frozen=True, slots=True)
class DiffLine:
    """One line of a unified diff: `kind` is add, del, hunk, head or same."""

    kind: str
    text: str


def diff(old: str, new: str, old_name: str, new_name: str) -> tuple[list[DiffLine], bool]:
    """The unified diff of two texts, and whether it was cut at `MAX_DIFF_LINES`."""
    lines: list[DiffLine] = []
    produced = difflib.unified_diff(
        old.splitlines(),
        new.splitlines(),
        fromfile=old_name,
        tofile=new_name,
        n=DIFF_CONTEXT,
        lineterm="",
    )
    for line in produced:
        if len(lines) >= MAX_DIFF_LINES:
            return lines, True
        if line.startswith(("---", "+++")):
            kind = "head"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "same"
        lines.append(DiffLine(kind, line))
    return lines, False
