"""YAML 1.2 text → plain JSON-like data plus the line/column of every key and item.

Two loaders, one answer.  The fast path (`yaml_fast`: libyaml's C parser, typed here
with YAML 1.2 rules) reads a plain workflow file in a fraction of the time.  ruamel.yaml's
pure-Python YAML 1.2 "safe" pipeline is the reference: it answers whenever the fast path
declines (anything not plain, and every document with a problem), so every error message
and `file:line:col` is the reference's; ruamel is imported only then.  It builds a node
graph with a mark (line, column) on every node and a depth limit checked while composing,
before anything deep is built; `yaml_convert` turns the graph into data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from basir.i18n import _
from basir.spec.errors import FieldPath, IssueCode, SpecIssue
from basir.spec.yaml_convert import Converter, Location, Node, ProblemError, mark, measure

if TYPE_CHECKING:
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

Result = tuple[Any, dict[FieldPath, Location], list[SpecIssue]]


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


def _convert(root: Node, max_depth: int, max_nodes: int) -> Result:
    converter = Converter(max_depth, max_nodes)
    converter.note((), root)
    try:
        measure(root, max_depth, max_nodes)
        data = converter.convert(root, (), 0)
    except ProblemError as problem:
        line, col = mark(problem.node)
        converter.issues.append(SpecIssue(problem.code, problem.message, (), line, col))
        return None, converter.locations, converter.issues
    return data, converter.locations, converter.issues


def load_yaml(text: str, *, max_depth: int, max_nodes: int) -> Result:
    """Parse one YAML 1.2 document: (data, locations, issues); data is None on a fatal issue.

    The libyaml fast path answers a clean document; anything else is read again by ruamel.yaml
    so that what the user sees about a problem never depends on which parser ran.
    """
    try:
        from basir.spec.yaml_fast import FastPathDeclinedError, load
    except ImportError:  # PyYAML built without libyaml: no fast path, same answers
        return load_yaml_reference(text, max_depth=max_depth, max_nodes=max_nodes)
    try:
        data, locations = load(text, max_depth=max_depth, max_nodes=max_nodes)
    except FastPathDeclinedError:
        return load_yaml_reference(text, max_depth=max_depth, max_nodes=max_nodes)
    return data, locations, []


def load_yaml_reference(text: str, *, max_depth: int, max_nodes: int) -> Result:
    """`load_yaml` with ruamel.yaml's pure-Python YAML 1.2 parser only (the reference)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.composer import Composer, MaxDepthExceededError
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    class QuietComposer(Composer):
        """ruamel's composer without the reused-anchor warning (re-anchoring is legal YAML)."""

        def __init__(self, loader: Any = None) -> None:
            super().__init__(loader)
            self.warn_double_anchors = False

    yaml = YAML(typ="safe", pure=True)
    yaml.Composer = QuietComposer
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
    return _convert(root, max_depth, max_nodes)


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
