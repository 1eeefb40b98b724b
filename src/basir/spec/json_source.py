"""JSON text → plain data plus the line/column of every key and item.

The standard `json` module parses (and reports syntax errors with line and column) but gives
no positions for values, so a small iterative scanner walks the text first.  It records where
each key and array item starts, finds duplicate keys and non-finite numbers, and enforces the
nesting limit before `json.loads` could recurse on a hostile `[[[[…`.  It never needs to be a
full JSON parser: when it meets something malformed it stops and lets `json.loads` explain.
"""

from __future__ import annotations

import bisect
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from basir.i18n import _
from basir.spec.errors import FieldPath, IssueCode, SpecIssue

Location = tuple[int, int]

_WS = re.compile(r"[ \t\r\n]*")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_ATOM = re.compile(r'[^\s{}\[\]:,"]+')
_NON_FINITE = ("NaN", "Infinity", "-Infinity")


@dataclass(slots=True)
class _Frame:
    path: FieldPath
    array: bool
    index: int = 0
    key: str = ""
    want_key: bool = False
    seen: dict[str, int] = field(default_factory=dict)


class _Scanner:
    def __init__(self, text: str, max_depth: int) -> None:
        self.text = text
        self.max_depth = max_depth
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.locations: dict[FieldPath, Location] = {}
        self.issues: list[SpecIssue] = []
        self.stack: list[_Frame] = []

    def where(self, pos: int) -> Location:
        line = bisect.bisect_right(self.line_starts, pos)
        return line, pos - self.line_starts[line - 1] + 1

    def value_path(self) -> FieldPath:
        if not self.stack:
            return ()
        top = self.stack[-1]
        return (*top.path, top.index if top.array else top.key)

    def run(self) -> bool:
        """Scan the whole text; False when the nesting limit was exceeded."""
        pos, end = 0, len(self.text)
        while True:
            pos = _WS.match(self.text, pos).end()  # type: ignore[union-attr]
            if pos >= end:
                return True
            char = self.text[pos]
            top = self.stack[-1] if self.stack else None
            if top is not None and top.want_key and char != "}":
                next_pos = self.key(top, pos)
            elif char in "]}":
                self.stack.pop() if self.stack else None
                next_pos = pos + 1
            elif char == ",":
                if top is not None:
                    top.index += 1
                    top.want_key = not top.array
                next_pos = pos + 1
            elif char in "[{":
                if len(self.stack) >= self.max_depth:
                    message = _(
                        "nested too deeply (more than {limit} levels)", limit=self.max_depth
                    )
                    self.issues.append(SpecIssue(IssueCode.TOO_DEEP, message, (), *self.where(pos)))
                    return False
                path = self.value_path()
                self.locations.setdefault(path, self.where(pos))
                self.stack.append(_Frame(path, array=char == "[", want_key=char == "{"))
                next_pos = pos + 1
            else:
                next_pos = self.scalar(pos)
            if next_pos is None:
                return True
            pos = next_pos

    def key(self, top: _Frame, pos: int) -> int | None:
        match = _STRING.match(self.text, pos)
        if match is None:
            return None
        try:
            key = json.loads(match.group())
        except ValueError:
            return None
        line, col = self.where(pos)
        if key in top.seen:
            message = _("duplicate key {key} (first at line {first})", key=key, first=top.seen[key])
            self.issues.append(
                SpecIssue(IssueCode.DUPLICATE_KEY, message, (*top.path, key), line, col)
            )
        else:
            top.seen[key] = line
            self.locations.setdefault((*top.path, key), (line, col))
        top.key, top.want_key = key, False
        pos = _WS.match(self.text, match.end()).end()  # type: ignore[union-attr]
        return pos + 1 if self.text.startswith(":", pos) else None

    def scalar(self, pos: int) -> int | None:
        path = self.value_path()
        self.locations.setdefault(path, self.where(pos))
        pattern = _STRING if self.text[pos] == '"' else _ATOM
        match = pattern.match(self.text, pos)
        if match is None:
            return None
        atom = match.group()
        if pattern is _ATOM and not _finite(atom):
            message = _("numbers must be finite: {text}", text=atom[:40])
            self.issues.append(SpecIssue(IssueCode.INVALID_VALUE, message, path, *self.where(pos)))
        return match.end()


def _finite(atom: str) -> bool:
    if atom in _NON_FINITE:
        return False
    if atom[:1] not in "-0123456789" or not any(c in atom for c in ".eE"):
        return True
    try:
        return math.isfinite(float(atom))
    except ValueError:
        return True  # not a number at all: json.loads reports it


def load_json(
    text: str, *, max_depth: int
) -> tuple[Any, dict[FieldPath, Location], list[SpecIssue]]:
    """Parse JSON text: (data, locations, issues); data is None on a fatal issue."""
    scanner = _Scanner(text, max_depth)
    if not scanner.run():
        return None, scanner.locations, scanner.issues
    try:
        data = json.loads(text, parse_constant=lambda _name: None)
    except json.JSONDecodeError as exc:
        message = _("JSON syntax error: {problem}", problem=exc.msg)
        issue = SpecIssue(IssueCode.JSON_SYNTAX, message, (), exc.lineno, exc.colno)
        return None, scanner.locations, [issue]
    except (ValueError, RecursionError) as exc:
        message = _("JSON syntax error: {problem}", problem=str(exc)[:200])
        return None, scanner.locations, [SpecIssue(IssueCode.JSON_SYNTAX, message)]
    return data, scanner.locations, scanner.issues
