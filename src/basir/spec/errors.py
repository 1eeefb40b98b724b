"""What goes wrong in a workflow file, and where: `SpecIssue`, `SpecError` and the stable codes.

Every issue carries a stable `code` (for API clients and tests), a message already translated
into the active locale, the field path (`("tasks", 2, "needs", 0)`) and, when known, the
1-based line and column in the source text.  `SpecError` holds all issues found in one file,
so a user fixes them in one go instead of one per attempt.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from basir.i18n import _

FieldPath = tuple[str | int, ...]

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


class IssueCode(StrEnum):
    """Stable issue codes: part of the public contract (API `code`, CLI, tests)."""

    YAML_SYNTAX = "spec.yaml_syntax"
    JSON_SYNTAX = "spec.json_syntax"
    BAD_ENCODING = "spec.bad_encoding"
    UNREADABLE = "spec.unreadable"
    NOT_A_MAPPING = "spec.not_a_mapping"
    UNSUPPORTED_VALUE = "spec.unsupported_value"
    UNKNOWN_KEY = "spec.unknown_key"
    MISSING_KEY = "spec.missing_key"
    INVALID_VALUE = "spec.invalid_value"
    DUPLICATE_KEY = "spec.duplicate_key"
    DUPLICATE_TASK = "spec.duplicate_task"
    UNKNOWN_NEED = "spec.unknown_need"
    SELF_NEED = "spec.self_need"
    CYCLE = "spec.cycle"
    TWO_BODIES = "spec.two_bodies"
    NO_BODY = "spec.no_body"
    BAD_EXPRESSION = "spec.bad_expression"
    EXPRESSION_PLACEMENT = "spec.expression_placement"
    UNKNOWN_REFERENCE = "spec.unknown_reference"
    TOO_LARGE = "spec.too_large"
    TOO_DEEP = "spec.too_deep"
    TOO_MANY_ISSUES = "spec.too_many_issues"
    UNKNOWN_TEMPLATE = "spec.unknown_template"
    BAD_TEMPLATE = "spec.bad_template"
    BAD_TEMPLATE_INPUT = "spec.bad_template_input"
    BAD_PARAM = "spec.bad_param"
    UNSUPPORTED = "spec.unsupported"
    CRON_INVALID = "spec.cron_invalid"
    TIMEZONE_INVALID = "spec.timezone_invalid"
    UNKNOWN_POOL = "spec.unknown_pool"
    RESOURCE_TOO_LARGE = "spec.resource_too_large"
    QUOTA_TOO_SMALL = "spec.quota_too_small"
    UNKNOWN_QUEUE = "spec.unknown_queue"


def format_path(path: Sequence[str | int]) -> str:
    """`("tasks", 2, "needs", 0)` → `tasks[2].needs[0]`; odd keys are quoted: `env["A B"]`."""
    out: list[str] = []
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _PLAIN_KEY.match(part):
            out.append(f".{part}" if out else part)
        else:
            escaped = part.replace("\\", "\\\\").replace('"', '\\"')
            out.append(f'["{escaped}"]')
    return "".join(out)


@dataclass(frozen=True, slots=True)
class SpecIssue:
    """One problem in a workflow or template file."""

    code: str
    message: str
    path: FieldPath = ()
    line: int | None = None
    col: int | None = None

    def format(self, filename: str = "<input>") -> str:
        """`file:line:col: path: message`, the form editors and CI logs understand."""
        where = filename
        if self.line is not None:
            where += f":{self.line}"
            if self.col is not None:
                where += f":{self.col}"
        shown = format_path(self.path)
        return f"{where}: {shown}: {self.message}" if shown else f"{where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, for problem+json `errors` lists and `basir validate --json`."""
        return {
            "code": str(self.code),
            "message": self.message,
            "path": format_path(self.path),
            "line": self.line,
            "col": self.col,
        }

    def sort_key(self) -> tuple[int, int, str]:
        """Order of appearance in the file; issues without a place come first."""
        return (self.line or 0, self.col or 0, format_path(self.path))


class SpecError(Exception):
    """A workflow (or template) file is invalid; `issues` lists every problem found."""

    def __init__(self, issues: Iterable[SpecIssue], filename: str = "<input>") -> None:
        self.issues: list[SpecIssue] = list(issues)
        self.filename = filename
        super().__init__(self.format())

    def format(self) -> str:
        """All issues, one `file:line:col: message` per line."""
        return "\n".join(issue.format(self.filename) for issue in self.issues)

    @property
    def codes(self) -> list[str]:
        """The codes of all issues, in order (handy in tests and API responses)."""
        return [str(issue.code) for issue in self.issues]


class SpecValueError(ValueError):
    """A `ValueError` with a stable code, raised inside model validators.

    Pydantic wraps it as a `value_error`; the loader reads `code` back, and appends `at` to
    the error's field path, so the issue points at the exact key (e.g. the second body).
    """

    def __init__(self, code: str, message: str, *, at: FieldPath = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.at = at


MAX_ISSUES = 200


def finish_issues(issues: Iterable[SpecIssue]) -> list[SpecIssue]:
    """Deduplicate, sort by place, and cap the list so a broken 10,000-task file stays readable."""
    unique = sorted(set(issues), key=SpecIssue.sort_key)
    if len(unique) > MAX_ISSUES:
        extra = len(unique) - MAX_ISSUES
        unique = unique[:MAX_ISSUES]
        unique.append(
            SpecIssue(
                IssueCode.TOO_MANY_ISSUES,
                _("… and {count} more problems", count=extra),
            )
        )
    return unique
