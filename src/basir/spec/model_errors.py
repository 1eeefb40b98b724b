"""Pydantic validation errors → located, localised `SpecIssue`s.

Pydantic's own messages are English, so each common error *type* gets our own `_()` message
(from `spec.pydantic_messages`, the table the API uses too).  Its `loc` uses aliases (`with`,
`if`, `json`) and, inside unions, branch tags such as `str` or `dict[str,str]`; we follow `loc`
through the document's data, drop the tags, and merge the per-branch errors of one union into
a single "must be text or a mapping" issue.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from basir.i18n import _
from basir.spec import models
from basir.spec.errors import FieldPath, IssueCode, SpecIssue, SpecValueError
from basir.spec.loader import LoadedDocument
from basir.spec.pydantic_messages import pydantic_message, short_input


def _pattern_hint(pattern: str) -> str:
    hints = {
        models.NAME_PATTERN: _(
            "lower-case letters, digits, '.', '_' or '-', starting with a letter or digit,"
            " at most 63 characters"
        ),
        models.TASK_ID_PATTERN: _(
            "letters, digits, '_' or '-', starting with a letter, digit or '_',"
            " at most 63 characters"
        ),
        models.TEMPLATE_REF_PATTERN: _("a template name such as flutter/build or sleep"),
        models.PYTHON_REF_PATTERN: _("module:function, e.g. mypkg.tasks:build"),
    }
    return hints.get(pattern, pattern)


def _known_keys() -> list[str]:
    keys: set[str] = set()
    spec_models: list[type[BaseModel]] = [
        models.WorkflowSpec, models.Task, models.RetryPolicy, models.Resources, models.Cache,
        models.HttpCall, models.Schedule, models.GitTrigger, models.Triggers, models.Param,
        models.Defaults,
    ]  # fmt: skip
    for model in spec_models:
        keys.update(info.alias or name for name, info in model.model_fields.items())
    return sorted(keys)


def suggest(word: str, choices: Iterable[str]) -> str:
    """` (did you mean X?)` for the closest of `choices`, or '' when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return _(" (did you mean {name}?)", name=close[0]) if close else ""


def _message(error: ErrorDetails, path: FieldPath) -> tuple[str, str, FieldPath]:
    kind = error["type"]
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    if kind == "extra_forbidden":
        key = str(path[-1]) if path else "?"
        return (
            IssueCode.UNKNOWN_KEY,
            _("unknown key {key}", key=key) + suggest(key, _known_keys()),
            path,
        )
    if kind == "missing":
        key = str(path[-1]) if path else "?"
        return IssueCode.MISSING_KEY, _("missing required key {key}", key=key), path
    if kind == "string_pattern_mismatch":
        hint = _pattern_hint(str(ctx.get("pattern", "")))
        value = short_input(error.get("input"))
        return (
            IssueCode.INVALID_VALUE,
            _("bad name {value}: use {hint}", value=value, hint=hint),
            path,
        )
    if kind in ("value_error", "assertion_error"):
        cause = ctx.get("error")
        if isinstance(cause, SpecValueError):
            return cause.code, cause.message, (*path, *cause.at)
        return IssueCode.INVALID_VALUE, str(cause) if cause else _("invalid value"), path
    text = pydantic_message(error, show_input=True)
    if text is None:
        text = _("invalid value ({kind})", kind=kind)
    return IssueCode.INVALID_VALUE, text, path


_BRANCH_NAMES = {
    "str": lambda: _("text"),
    "bool": lambda: _("true or false"),
    "int": lambda: _("a whole number"),
    "float": lambda: _("a number"),
}


def _branch_name(tag: str) -> str:
    if tag in _BRANCH_NAMES:
        return _BRANCH_NAMES[tag]()
    if tag.startswith("list["):
        return _("a list")
    return _("a mapping of keys")


@dataclass(slots=True)
class _Mapped:
    path: FieldPath
    site: FieldPath | None  # where a union branch was chosen, if any
    branch: str | None
    code: str
    message: str


def _follow(doc: LoadedDocument, error: ErrorDetails) -> _Mapped:
    node: Any = doc.data
    path: list[str | int] = []
    site: FieldPath | None = None
    branch: str | None = None
    loc = error["loc"]
    for position, part in enumerate(loc):
        inside = (isinstance(node, dict) and isinstance(part, str) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        )
        if inside:
            node = node[part]
            path.append(part)
        elif error["type"] in ("missing", "extra_forbidden") and position == len(loc) - 1:
            path.append(part)
        elif site is None and isinstance(part, str):
            site, branch = tuple(path), part
    code, message, full = _message(error, tuple(path))
    return _Mapped(full, site, branch, code, message)


def _merge_unions(mapped: list[_Mapped]) -> list[_Mapped]:
    by_site: dict[FieldPath, list[_Mapped]] = {}
    for item in mapped:
        if item.site is not None:
            by_site.setdefault(item.site, []).append(item)
    result = [item for item in mapped if item.site is None]
    for site, items in by_site.items():
        deeper = [item for item in items if len(item.path) > len(site)]
        if deeper:
            result.extend(deeper)
            continue
        names = list(dict.fromkeys(_branch_name(item.branch or "") for item in items))
        message = _("must be {choices}", choices=_(" or ").join(names))
        result.append(_Mapped(site, None, None, IssueCode.INVALID_VALUE, message))
    return result


def issues_from_validation(exc: ValidationError, doc: LoadedDocument) -> list[SpecIssue]:
    """Translate every error of a pydantic `ValidationError` into a located `SpecIssue`."""
    mapped = [_follow(doc, error) for error in exc.errors()]
    return [doc.issue(item.code, item.message, item.path) for item in _merge_unions(mapped)]
