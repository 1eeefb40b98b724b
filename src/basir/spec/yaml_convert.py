"""A YAML node graph → plain JSON-like data plus the line/column of every key and item.

The graph comes from either loader (ruamel.yaml's, the reference, or the libyaml fast path of
`yaml_fast`); both give nodes with `id` ("scalar", "sequence", "mapping"), `tag`, `value`
and a `start_mark` (0-based line, column), so one conversion decides, with a location each
time:

* duplicate keys are errors (all of them, not only the first);
* only the YAML 1.2 core types exist: `on:` stays a key, `no` stays a string, a date stays a
  string; `!!binary`, `!!set`, custom `!tags` and non-text keys are errors;
* `.inf` / `.nan` are errors (JSON has no such numbers);
* aliases are followed with a budget, so a "billion laughs" file fails fast;
* merge keys (`<<: *defaults`) work, explicit keys win over merged ones.
"""

from __future__ import annotations

import math
import re
from typing import Any

from basir.i18n import _
from basir.spec.errors import FieldPath, IssueCode, SpecIssue

Location = tuple[int, int]
# A ruamel.yaml or PyYAML node; both libraries' classes have the same shape.
Node = Any

_TAG = "tag:yaml.org,2002:"
_INT = re.compile(r"^[-+]?(0x[0-9a-fA-F_]+|0o[0-7_]+|0b[01_]+|[0-9][0-9_]*)$")
_MAX_INT_DIGITS = 1000


class ProblemError(Exception):
    """Raised inside the conversion; becomes one located `SpecIssue`."""

    def __init__(self, code: str, message: str, node: Node | None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.node = node


def mark(node: Node | None) -> tuple[int | None, int | None]:
    if node is None or node.start_mark is None:
        return None, None
    return node.start_mark.line + 1, node.start_mark.column + 1


class Converter:
    """Node graph → plain data; one instance per document."""

    __slots__ = ("issues", "locations", "max_depth", "max_nodes", "nodes")

    def __init__(self, max_depth: int, max_nodes: int) -> None:
        self.max_depth = max_depth
        self.max_nodes = max_nodes
        self.nodes = 0
        self.locations: dict[FieldPath, Location] = {}
        self.issues: list[SpecIssue] = []

    def note(self, path: FieldPath, node: Node) -> None:
        line, col = mark(node)
        if line is not None and col is not None:
            self.locations.setdefault(path, (line, col))

    def convert(self, node: Node, path: FieldPath, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > self.max_nodes:
            message = _(
                "too many values (aliases expand to more than {limit})", limit=self.max_nodes
            )
            raise ProblemError(IssueCode.TOO_LARGE, message, node)
        if node.id == "scalar":
            return self.scalar(node)
        if depth >= self.max_depth:
            message = _("nested too deeply (more than {limit} levels)", limit=self.max_depth)
            raise ProblemError(IssueCode.TOO_DEEP, message, node)
        if node.id == "sequence":
            self.check_tag(node, "seq")
            items = []
            for index, child in enumerate(node.value):
                self.note((*path, index), child)
                items.append(self.convert(child, (*path, index), depth + 1))
            return items
        if node.id == "mapping":
            self.check_tag(node, "map")
            return self.mapping(node, path, depth)
        raise ProblemError(IssueCode.UNSUPPORTED_VALUE, _("unsupported YAML value"), node)

    def check_tag(self, node: Node, kind: str) -> None:
        if str(node.tag) != _TAG + kind:
            message = _("unsupported YAML tag {tag}", tag=str(node.tag).replace(_TAG, "!!"))
            raise ProblemError(IssueCode.UNSUPPORTED_VALUE, message, node)

    def mapping(self, node: Node, path: FieldPath, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merged: list[tuple[Node, Node]] = []
        for key_node, value_node in node.value:
            if str(key_node.tag) == _TAG + "merge":
                merged.extend(self.merge_sources(value_node))
                continue
            key = self.key(key_node)
            if key in result:
                self.issues.append(self.duplicate(key, key_node, path))
                continue
            self.note((*path, key), key_node)
            result[key] = self.convert(value_node, (*path, key), depth + 1)
        for key_node, value_node in merged:
            key = self.key(key_node)
            if key not in result:
                self.note((*path, key), key_node)
                result[key] = self.convert(value_node, (*path, key), depth + 1)
        return result

    def merge_sources(self, value_node: Node) -> list[tuple[Node, Node]]:
        sources = value_node.value if value_node.id == "sequence" else [value_node]
        pairs: list[tuple[Node, Node]] = []
        for source in sources:
            if source.id != "mapping":
                message = _("a merge key '<<' needs a mapping or a list of mappings")
                raise ProblemError(IssueCode.INVALID_VALUE, message, source)
            pairs.extend(pair for pair in source.value if str(pair[0].tag) != _TAG + "merge")
        return pairs

    def duplicate(self, key: str, key_node: Node, path: FieldPath) -> SpecIssue:
        first = self.locations.get((*path, key))
        line, col = mark(key_node)
        message = (
            _("duplicate key {key} (first at line {first})", key=key, first=first[0])
            if first
            else _("duplicate key {key}", key=key)
        )
        return SpecIssue(IssueCode.DUPLICATE_KEY, message, (*path, key), line, col)

    def key(self, node: Node) -> str:
        if not node.id == "scalar":
            raise ProblemError(IssueCode.INVALID_VALUE, _("a key must be text"), node)
        value = self.scalar(node)
        if not isinstance(value, str):
            raise ProblemError(
                IssueCode.INVALID_VALUE, _("a key must be text: quote {key}", key=node.value), node
            )
        return value

    def scalar(self, node: Node) -> Any:
        tag = str(node.tag)
        text: str = node.value
        if tag in (_TAG + "str", _TAG + "timestamp"):
            return text
        if tag == _TAG + "null":
            return None
        if tag == _TAG + "bool":
            return text.lower() == "true"
        if tag == _TAG + "int":
            return self.integer(text, node)
        if tag == _TAG + "float":
            return self.floating(text, node)
        message = _("unsupported YAML tag {tag}", tag=tag.replace(_TAG, "!!"))
        raise ProblemError(IssueCode.UNSUPPORTED_VALUE, message, node)

    @staticmethod
    def integer(text: str, node: Node) -> int:
        match = _INT.match(text)
        digits = text.replace("_", "")
        if match is None or len(digits) > _MAX_INT_DIGITS:
            raise ProblemError(
                IssueCode.INVALID_VALUE, _("not a valid integer: {text}", text=text), node
            )
        sign = -1 if digits.startswith("-") else 1
        body = digits.lstrip("+-")
        bases = {"0x": 16, "0o": 8, "0b": 2}
        base = bases.get(body[:2].lower(), 10)
        try:
            return sign * int(body[2:] if base != 10 else body, base)
        except ValueError:
            raise ProblemError(
                IssueCode.INVALID_VALUE, _("not a valid integer: {text}", text=text), node
            ) from None

    @staticmethod
    def floating(text: str, node: Node) -> float:
        try:
            value = float(text.replace("_", ""))
        except ValueError:
            value = float("nan")
        if not math.isfinite(value):
            message = _("numbers must be finite: {text}", text=text)
            raise ProblemError(IssueCode.INVALID_VALUE, message, node)
        return value


def children(node: Node) -> list[Node]:
    if node.id == "sequence":
        return list(node.value)
    if node.id == "mapping":
        return [part for pair in node.value for part in pair]
    return []


def measure(root: Node, max_depth: int, max_nodes: int) -> None:
    """Reject alias bombs and alias cycles before anything is expanded.

    Sizes and heights are memoised per node, so this costs one visit per distinct node even
    when aliases would expand the document a billion times; the walk is iterative.
    """
    memo: dict[int, tuple[int, int]] = {}
    active: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        kids = children(node)
        if done:
            size = 1 + sum(memo[id(kid)][0] for kid in kids)
            height = 1 + max((memo[id(kid)][1] for kid in kids), default=0) if kids else 0
            memo[key] = (size, height)
            active.discard(key)
            if height > max_depth:
                message = _("nested too deeply (more than {limit} levels)", limit=max_depth)
                raise ProblemError(IssueCode.TOO_DEEP, message, node)
            if size > max_nodes:
                message = _(
                    "too many values (aliases expand to more than {limit})", limit=max_nodes
                )
                raise ProblemError(IssueCode.TOO_LARGE, message, node)
        elif key not in memo:
            if key in active:  # an alias inside its own anchor: infinitely deep
                message = _("nested too deeply (more than {limit} levels)", limit=max_depth)
                raise ProblemError(IssueCode.TOO_DEEP, message, node)
            active.add(key)
            stack.append((node, True))
            stack.extend((kid, False) for kid in kids if id(kid) not in memo)
