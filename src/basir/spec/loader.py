"""Workflow and template text (YAML or JSON) → plain data with a location for every field.

Limits are checked before anything is built: the size in bytes first, then the nesting depth
while the parser composes (YAML) or scans (JSON).  The result, a `LoadedDocument`, answers
"where is field `tasks[2].needs[0]`?" for every error message that follows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from basir.i18n import _
from basir.spec.errors import FieldPath, IssueCode, SpecError, SpecIssue, finish_issues
from basir.spec.json_source import load_json
from basir.spec.yaml_source import load_yaml

MAX_SPEC_BYTES = 1 << 20
MAX_NESTING_DEPTH = 64
MAX_VALUES = 500_000

Location = tuple[int, int]


@dataclass(slots=True)
class LoadedDocument:
    """Plain data (dicts, lists, str, int, float, bool, None) and where each field came from."""

    data: Any
    filename: str = "<input>"
    locations: dict[FieldPath, Location] = field(default_factory=dict)

    def locate(self, path: FieldPath) -> tuple[int | None, int | None]:
        """Line and column of `path`, or of its nearest located ancestor; (None, None) if none."""
        for end in range(len(path), -1, -1):
            found = self.locations.get(path[:end])
            if found is not None:
                return found
        return None, None

    def issue(self, code: str, message: str, path: FieldPath) -> SpecIssue:
        """A `SpecIssue` at `path`, located in this document."""
        return SpecIssue(code, message, path, *self.locate(path))

    def get(self, path: FieldPath, default: Any = None) -> Any:
        """The raw value at `path`, or `default` when the path does not exist."""
        node = self.data
        for part in path:
            if isinstance(node, Mapping) and isinstance(part, str):
                if part not in node:
                    return default
            elif not (isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)):
                return default
            node = node[part]
        return node


def is_json(filename: str, content_type: str | None) -> bool:
    """JSON for a `*.json` file or a JSON content type; YAML otherwise (YAML 1.2 reads JSON too)."""
    if content_type:
        return "json" in content_type.lower()
    return filename.lower().endswith(".json")


def decode(text: str | bytes, filename: str, max_bytes: int = MAX_SPEC_BYTES) -> str:
    """Check the size, decode UTF-8 (a BOM is dropped); SpecError when too big or not UTF-8."""
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        message = _(
            "the file is too large: {size} bytes, at most {limit}", size=size, limit=max_bytes
        )
        raise SpecError([SpecIssue(IssueCode.TOO_LARGE, message)], filename)
    if isinstance(text, bytes):
        raw = text
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
            message = _("the file is not valid UTF-8 text")
            issue = SpecIssue(IssueCode.BAD_ENCODING, message, (), line, col)
            raise SpecError([issue], filename) from None
    return text.removeprefix("\ufeff")


def parse_document(
    text: str | bytes,
    filename: str = "<input>",
    *,
    content_type: str | None = None,
    max_bytes: int = MAX_SPEC_BYTES,
    require_mapping: bool = True,
) -> LoadedDocument:
    """Parse YAML or JSON text into a `LoadedDocument`; SpecError with located issues otherwise.

    Non-fatal problems (duplicate keys, non-finite numbers) are collected and raised together.
    """
    source = decode(text, filename, max_bytes)
    if is_json(filename, content_type):
        data, locations, issues = load_json(source, max_depth=MAX_NESTING_DEPTH)
    else:
        data, locations, issues = load_yaml(
            source, max_depth=MAX_NESTING_DEPTH, max_nodes=MAX_VALUES
        )
    if not issues and require_mapping and not isinstance(data, dict):
        message = (
            _("the file is empty")
            if data is None
            else _("the top level must be a mapping of keys (name:, tasks:, …)")
        )
        first = locations.get((), (1, 1))
        issues = [SpecIssue(IssueCode.NOT_A_MAPPING, message, (), *first)]
    if issues:
        raise SpecError(finish_issues(issues), filename)
    return LoadedDocument(data, filename, locations)
