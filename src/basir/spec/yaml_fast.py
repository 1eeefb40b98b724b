"""YAML at C speed: libyaml scans and parses, we compose and resolve with YAML 1.2 rules.

PyYAML's C extension (`yaml._yaml.CParser`, a thin front-end to libyaml) turns the text into
events with a mark (line, column) on each.  Only the parser is used: PyYAML's own composer
and resolver are YAML 1.1 (`on:` would become `True`), and its C composer recurses, so a
deeply nested file could exhaust the C stack before any limit is checked.  Here the events
are composed into PyYAML node objects with a worklist, the nesting depth is checked as each
collection opens, and plain scalars get their tag from the YAML 1.2 core schema exactly as
ruamel.yaml (the reference loader) resolves them: `yes`/`no`/`on`/`off` stay text,
`0o17`/`0x1F`/`1_000` are integers, a date stays text (`!!timestamp`), `~`/`null`/empty are
null.

Anything unusual — a syntax error, a directive (`%YAML 1.1` changes the rules), a second
document, an undefined alias, nesting past the limit — raises `FastPathDeclinedError`, and the
caller answers with ruamel.yaml instead, so every error message and location stays the
reference's.
"""

from __future__ import annotations

import re
from typing import Any

from yaml import events as ev
from yaml._yaml import CParser

from basir.spec.errors import FieldPath
from basir.spec.yaml_convert import Converter, Location, ProblemError

_TAG = "tag:yaml.org,2002:"
_STR = _TAG + "str"

# ruamel.yaml's YAML 1.2 implicit resolvers (resolver.py), in its order, by first character.
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_FLOAT = re.compile(
    r"""^(?:
     [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_INT = re.compile(
    r"""^(?:[-+]?0b[0-1_]+
    |[-+]?0o?[0-7_]+
    |[-+]?[0-9_]+
    |[-+]?0x[0-9a-fA-F_]+)$""",
    re.X,
)
_MERGE = re.compile(r"^(?:<<)$")
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_TIMESTAMP = re.compile(
    r"""^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
    |[0-9][0-9][0-9][0-9] -[0-9][0-9]? -[0-9][0-9]?
    (?:[Tt]|[ \t]+)[0-9][0-9]?
    :[0-9][0-9] :[0-9][0-9] (?:\.[0-9]*)?
    (?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$""",
    re.X,
)
_VALUE = re.compile(r"^(?:=)$")


def _resolvers() -> dict[str, list[tuple[str, re.Pattern[str]]]]:
    table: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
    rules = [
        ("bool", _BOOL, "tTfF"),
        ("float", _FLOAT, "-+0123456789."),
        ("int", _INT, "-+0123456789"),
        ("merge", _MERGE, "<"),
        ("null", _NULL, "~nN"),
        ("timestamp", _TIMESTAMP, "0123456789"),
        ("value", _VALUE, "="),
    ]
    for name, pattern, firsts in rules:
        for first in firsts:
            table.setdefault(first, []).append((_TAG + name, pattern))
    table[""] = [(_TAG + "null", _NULL)]
    return table


_BY_FIRST = _resolvers()


class FastPathDeclinedError(Exception):
    """The fast path cannot decide this text; the reference loader must."""


def resolve_plain(value: str) -> str:
    """The YAML 1.2 core-schema tag of a plain (unquoted, untagged) scalar, as ruamel gives it."""
    for tag, pattern in _BY_FIRST.get(value[:1], ()):
        if pattern.match(value):
            return tag
    return _STR


_Frame = list[Any]  # [container, path, key waiting for its value (mappings only)]


def _typed(value: str) -> Any:
    """A plain scalar's value under the YAML 1.2 core schema (the conversion's rules)."""
    tag = resolve_plain(value)
    if tag == _STR or tag == _TAG + "timestamp":
        return value
    if tag == _TAG + "null":
        return None
    if tag == _TAG + "bool":
        return value.lower() == "true"
    try:
        if tag == _TAG + "int":
            return Converter.integer(value, None)
        if tag == _TAG + "float":
            return Converter.floating(value, None)
    except ProblemError:
        raise FastPathDeclinedError(value) from None
    raise FastPathDeclinedError(tag)  # `<<` merge keys, `=`


class _Builder:
    """Events → data and locations, one event at a time; declines whatever is not plain."""

    def __init__(self, max_depth: int, max_nodes: int) -> None:
        self.max_depth = max_depth
        self.budget = max_nodes
        self.stack: list[_Frame] = []
        self.locations: dict[FieldPath, Location] = {}
        self.root: Any = None
        self.documents = 0
        self.cache: dict[str, Any] = {}

    def place(self, value: Any, mark: Any, container: bool) -> None:
        """Put a finished scalar or a just-opened collection where it belongs."""
        self.budget -= 1
        if self.budget < 0:
            raise FastPathDeclinedError("too many values")
        where = (mark.line + 1, mark.column + 1)
        if not self.stack:
            path: FieldPath = ()
            self.root = value
            self.locations[path] = where
        else:
            frame = self.stack[-1]
            parent = frame[0]
            if type(parent) is list:
                path = (*frame[1], len(parent))
                self.locations[path] = where
                parent.append(value)
            elif frame[2] is None:
                if type(value) is not str or value in parent:
                    raise FastPathDeclinedError("non-text or duplicate key")
                frame[2] = value
                self.locations[(*frame[1], value)] = where
                return
            else:
                path = (*frame[1], frame[2])
                parent[frame[2]] = value
                frame[2] = None
        if container:
            if len(self.stack) >= self.max_depth:
                raise FastPathDeclinedError("too deep")
            self.stack.append([value, path, None])

    def feed(self, event: Any) -> None:
        kind = type(event)
        if kind is ev.ScalarEvent:
            if event.anchor is not None or event.tag not in (None, "!"):
                raise FastPathDeclinedError("anchor or tag")
            text = event.value
            if event.tag is None and event.implicit[0]:
                value = self.cache.get(text, _MISSING)
                if value is _MISSING:
                    value = self.cache[text] = _typed(text)
            else:
                value = text
            self.place(value, event.start_mark, False)
        elif kind is ev.MappingStartEvent or kind is ev.SequenceStartEvent:
            if event.anchor is not None or event.tag not in (None, "!"):
                raise FastPathDeclinedError("anchor or tag")
            self.place({} if kind is ev.MappingStartEvent else [], event.start_mark, True)
        elif kind is ev.MappingEndEvent or kind is ev.SequenceEndEvent:
            self.stack.pop()
        elif kind is ev.DocumentStartEvent:
            self.documents += 1
            if self.documents > 1 or event.version is not None or event.tags:
                raise FastPathDeclinedError("directive or second document")
        elif kind is not ev.DocumentEndEvent and kind is not ev.StreamStartEvent:
            raise FastPathDeclinedError(kind.__name__)  # an alias


_MISSING = object()
# libyaml counts NEL, LS and PS as line breaks (YAML 1.1); YAML 1.2 does not, so lines would
# differ after one.
_YAML_1_1_BREAKS = ("\x85", "\u2028", "\u2029")


def load(text: str, *, max_depth: int, max_nodes: int) -> tuple[Any, dict[FieldPath, Location]]:
    """Data and locations of a plain one-document YAML 1.2 text (None when there is none).

    Raises `FastPathDeclinedError` for anything the reference loader should answer instead.
    """
    if any(mark in text for mark in _YAML_1_1_BREAKS):
        raise FastPathDeclinedError("a YAML 1.1 line break")
    parser = CParser(text)
    builder = _Builder(max_depth, max_nodes)
    get_event = parser.get_event
    feed = builder.feed
    try:
        event = get_event()
        while event is not None and type(event) is not ev.StreamEndEvent:
            feed(event)
            event = get_event()
    except FastPathDeclinedError:
        raise
    except Exception as exc:  # libyaml's syntax errors and anything odd: the reference decides
        raise FastPathDeclinedError(str(exc)) from exc
    finally:
        parser.dispose()
    return builder.root, builder.locations
