"""YAML 1.2 text → plain JSON-like data plus the line/column of every key and item.

ruamel.yaml's YAML 1.2 parser and composer build the node graph, with a mark (line, column)
on every node and a depth limit checked while composing, before anything deep is built.  We
use its pure-Python "safe" pipeline rather than the round-trip one: the marks are the same,
and the round-trip scanner's comment handling makes it about three times slower.  The
conversion to plain data is ours, so that we decide, with a location each time:

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

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer, MaxDepthExceededError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from basir.i18n import _
from basir.spec.errors import FieldPath, IssueCode, SpecIssue

Location = tuple[int, int]

_TAG = "tag:yaml.org,2002:"
_INT = re.compile(r"^[-+]?(0x[0-9a-fA-F_]+|0o[0-7_]+|0b[01_]+|[0-9][0-9_]*)$")
_MAX_INT_DIGITS = 1000


class _QuietComposer(Composer):
    """ruamel's composer without the reused-anchor warning (re-anchoring is legal YAML)."""

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self.warn_double_anchors = False


class _ProblemError(Exception):
    """Raised inside the conversion; becomes one located `SpecIssue`."""

    def __init__(self, code: str, message: str, node: Node | None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.node = node


def _mark(node: Node | None) -> tuple[int | None, int | None]:
    if node is None or node.start_mark is None:
        return None, None
    return node.start_mark.line + 1, node.start_mark.column + 1


def _syntax_message(exc: YAMLError) -> str:
    problem = str(getattr(exc, "problem", None) or exc).strip().splitlines()[0]
    known = {
        "mapping values are not allowed here": _("a ':' is not allowed here (quote the text?)"),
        "expected <block end>": _("bad indentation: this line does not line up with the others"),
        "could not find expected ':'": _("a ':' is missing after a key"),
        "found undefined alias": _("unknown alias (no anchor & with this name above)"),
        "found unexpected end of stream": _("the file ends inside quotes or brackets"),
        "found unknown escape character": _("unknown escape in double-quoted text"),
        "found character '\\t' that cannot start any token": _(
            "tabs are not allowed for indentation"
        ),
        "expected a single document in the stream": _("a workflow file holds exactly one document"),
    }
    for prefix, message in known.items():
        if problem.startswith(prefix):
            return message
    return _("YAML syntax error: {problem}", problem=problem)


class _Converter:
    """Node graph → plain data; one instance per document."""

    def __init__(self, max_depth: int, max_nodes: int) -> None:
        self.max_depth = max_depth
        self.max_nodes = max_nodes
        self.nodes = 0
        self.locations: dict[FieldPath, Location] = {}
        self.issues: list[SpecIssue] = []

    def note(self, path: FieldPath, node: Node) -> None:
        line, col = _mark(node)
        if line is not None and col is not None:
            self.locations.setdefault(path, (line, col))

    def convert(self, node: Node, path: FieldPath, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > self.max_nodes:
            message = _(
                "too many values (aliases expand to more than {limit})", limit=self.max_nodes
            )
            raise _ProblemError(IssueCode.TOO_LARGE, message, node)
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if depth >= self.max_depth:
            message = _("nested too deeply (more than {limit} levels)", limit=self.max_depth)
            raise _ProblemError(IssueCode.TOO_DEEP, message, node)
        if isinstance(node, SequenceNode):
            self.check_tag(node, "seq")
            items = []
            for index, child in enumerate(node.value):
                self.note((*path, index), child)
                items.append(self.convert(child, (*path, index), depth + 1))
            return items
        if isinstance(node, MappingNode):
            self.check_tag(node, "map")
            return self.mapping(node, path, depth)
        raise _ProblemError(IssueCode.UNSUPPORTED_VALUE, _("unsupported YAML value"), node)

    def check_tag(self, node: Node, kind: str) -> None:
        if str(node.tag) != _TAG + kind:
            message = _("unsupported YAML tag {tag}", tag=str(node.tag).replace(_TAG, "!!"))
            raise _ProblemError(IssueCode.UNSUPPORTED_VALUE, message, node)

    def mapping(self, node: MappingNode, path: FieldPath, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merged: list[tuple[ScalarNode, Node]] = []
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

    def merge_sources(self, value_node: Node) -> list[tuple[ScalarNode, Node]]:
        sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
        pairs: list[tuple[ScalarNode, Node]] = []
        for source in sources:
            if not isinstance(source, MappingNode):
                message = _("a merge key '<<' needs a mapping or a list of mappings")
                raise _ProblemError(IssueCode.INVALID_VALUE, message, source)
            pairs.extend(pair for pair in source.value if str(pair[0].tag) != _TAG + "merge")
        return pairs

    def duplicate(self, key: str, key_node: Node, path: FieldPath) -> SpecIssue:
        first = self.locations.get((*path, key))
        line, col = _mark(key_node)
        message = (
            _("duplicate key {key} (first at line {first})", key=key, first=first[0])
            if first
            else _("duplicate key {key}", key=key)
        )
        return SpecIssue(IssueCode.DUPLICATE_KEY, message, (*path, key), line, col)

    def key(self, node: Node) -> str:
        if not isinstance(node, ScalarNode):
            raise _ProblemError(IssueCode.INVALID_VALUE, _("a key must be text"), node)
        value = self.scalar(node)
        if not isinstance(value, str):
            raise _ProblemError(
                IssueCode.INVALID_VALUE, _("a key must be text: quote {key}", key=node.value), node
            )
        return value

    def scalar(self, node: ScalarNode) -> Any:
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
        raise _ProblemError(IssueCode.UNSUPPORTED_VALUE, message, node)

    @staticmethod
    def integer(text: str, node: Node) -> int:
        match = _INT.match(text)
        digits = text.replace("_", "")
        if match is None or len(digits) > _MAX_INT_DIGITS:
            raise _ProblemError(
                IssueCode.INVALID_VALUE, _("not a valid integer: {text}", text=text), node
            )
        sign = -1 if digits.startswith("-") else 1
        body = digits.lstrip("+-")
        bases = {"0x": 16, "0o": 8, "0b": 2}
        base = bases.get(body[:2].lower(), 10)
        try:
            return sign * int(body[2:] if base != 10 else body, base)
        except ValueError:
            raise _ProblemError(
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
            raise _ProblemError(IssueCode.INVALID_VALUE, message, node)
        return value


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _measure(root: Node, max_depth: int, max_nodes: int) -> None:
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
        kids = _children(node)
        if done:
            size = 1 + sum(memo[id(kid)][0] for kid in kids)
            height = 1 + max((memo[id(kid)][1] for kid in kids), default=0) if kids else 0
            memo[key] = (size, height)
            active.discard(key)
            if height > max_depth:
                message = _("nested too deeply (more than {limit} levels)", limit=max_depth)
                raise _ProblemError(IssueCode.TOO_DEEP, message, node)
            if size > max_nodes:
                message = _(
                    "too many values (aliases expand to more than {limit})", limit=max_nodes
                )
                raise _ProblemError(IssueCode.TOO_LARGE, message, node)
        elif key not in memo:
            if key in active:  # an alias inside its own anchor: infinitely deep
                message = _("nested too deeply (more than {limit} levels)", limit=max_depth)
                raise _ProblemError(IssueCode.TOO_DEEP, message, node)
            active.add(key)
            stack.append((node, True))
            stack.extend((kid, False) for kid in kids if id(kid) not in memo)


def load_yaml(
    text: str, *, max_depth: int, max_nodes: int
) -> tuple[Any, dict[FieldPath, Location], list[SpecIssue]]:
    """Parse one YAML 1.2 document: (data, locations, issues); data is None on a fatal issue."""
    yaml = YAML(typ="safe", pure=True)
    yaml.Composer = _QuietComposer
    # ruamel counts scalar leaves as a level too; our depth counts nested collections.
    yaml.max_depth = max_depth + 1
    try:
        root = yaml.compose(text)
    except MaxDepthExceededError as exc:
        message = _("nested too deeply (more than {limit} levels)", limit=max_depth)
        return None, {}, [_located(IssueCode.TOO_DEEP, message, exc)]
    except MarkedYAMLError as exc:
        return None, {}, [_located(IssueCode.YAML_SYNTAX, _syntax_message(exc), exc)]
    except YAMLError as exc:
        issue = SpecIssue(IssueCode.YAML_SYNTAX, _syntax_message(exc), (), *_where(exc, text))
        return None, {}, [issue]
    except (ValueError, RecursionError, AttributeError, TypeError, IndexError) as exc:
        # ruamel is large; a crash on hostile input must still be a clean "bad file" answer.
        message = _("YAML syntax error: {problem}", problem=type(exc).__name__)
        return None, {}, [SpecIssue(IssueCode.YAML_SYNTAX, message)]
    if root is None:
        return None, {}, []
    converter = _Converter(max_depth, max_nodes)
    converter.note((), root)
    try:
        _measure(root, max_depth, max_nodes)
        data = converter.convert(root, (), 0)
    except _ProblemError as problem:
        line, col = _mark(problem.node)
        converter.issues.append(SpecIssue(problem.code, problem.message, (), line, col))
        return None, converter.locations, converter.issues
    return data, converter.locations, converter.issues


def _where(exc: YAMLError, text: str) -> tuple[int | None, int | None]:
    position = getattr(exc, "position", None)  # a ReaderError: bad character at an offset
    if not isinstance(position, int) or not 0 <= position <= len(text):
        return None, None
    line = text.count("\n", 0, position) + 1
    return line, position - (text.rfind("\n", 0, position) + 1) + 1


def _located(code: str, message: str, exc: MarkedYAMLError) -> SpecIssue:
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        return SpecIssue(code, message)
    return SpecIssue(code, message, (), mark.line + 1, mark.column + 1)
