"""The reference pages stay true to the code: settings, error codes, events and commands.

Each test reads a page of docs/reference the way a user does and compares it with what the
source defines or raises, both ways, so a new variable, code, event or option cannot land
undocumented, and a documented one cannot silently disappear.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import typer

from basir.cli.app import build_app
from basir.config import Settings
from basir.states import RunStatus, TaskStatus

ROOT = Path(__file__).parents[2]
SRC = ROOT / "src" / "basir"
REFERENCE = ROOT / "docs" / "reference"
CODE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
TICKED_CODE = re.compile(r"`([a-z][a-z0-9_]*\.[a-z][a-z0-9_]*)`")
EVENT_PREFIXES = (
    "run",
    "task",
    "resource",
    "engine",
    "alert",
    "notification",
    "deadline",
    "decision",
    "schedule",
)
# Literals shaped like an event type that are not one.
NOT_EVENTS = {
    "alert.rule",  # the store's key-value kind of alert rules
    "run.html",  # a dashboard template
}
# Documented codes no code raises any more: codes are never renamed or reused.
RETIRED_CODES = {"request.unsupported"}


def _page(name: str) -> str:
    return (REFERENCE / name).read_text(encoding="utf-8")


@cache
def _modules() -> tuple[tuple[Path, ast.Module], ...]:
    return tuple(
        (path, ast.parse(path.read_text(encoding="utf-8"))) for path in sorted(SRC.rglob("*.py"))
    )


@cache
def _string_literals() -> frozenset[str]:
    return frozenset(
        node.value
        for _path, tree in _modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    )


def _first_column_codes(text: str) -> set[str]:
    """Codes in the first cell of each table row (and nowhere else on the row)."""
    found: set[str] = set()
    for line in text.splitlines():
        if line.startswith("| `"):
            found.update(TICKED_CODE.findall(line.split("|")[1]))
    return found


# --- environment.md ---------------------------------------------------------------------


def test_every_setting_is_in_the_environment_reference_and_back() -> None:
    page = _page("environment.md")
    settings_part = page.split("## What a task sees")[0]
    listed = set(re.findall(r"`BASIR_([A-Z0-9_]+)`", settings_part))
    fields = {name.upper() for name in Settings.model_fields}
    assert sorted(fields - listed) == []  # read by Settings, not documented
    literals = _string_literals()
    # Documented but read outside Settings (client defaults, the dashboard's assets).
    elsewhere = {name for name in listed - fields if f"BASIR_{name}" in literals}
    assert sorted(listed - fields - elsewhere) == []  # documented, read by nothing


def test_every_variable_a_task_sees_is_in_the_environment_reference() -> None:
    task_part = _page("environment.md").split("## What a task sees")[1]
    for name in (
        "BASIR_RUN_ID",
        "BASIR_TASK_ID",
        "BASIR_WORKFLOW",
        "BASIR_ATTEMPT",
        "BASIR_ATTEMPT_ID",
        "BASIR_IDEMPOTENCY_KEY",
        "BASIR_OUTPUT",
        "BASIR_EXPR_",
    ):
        assert f"`{name}" in task_part, name
        assert any(literal.startswith(name) for literal in _string_literals()), name


# --- error-codes.md ---------------------------------------------------------------------


def _raised_codes() -> dict[str, str]:
    """Codes the source raises or answers: the first argument (or `code=`) of an `…Error(…)`
    or `problem_response(…)` call, the members of `IssueCode`, the API's status codes."""
    found: dict[str, str] = {}
    for path, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = _call_name(node)
                if name.endswith("Error") or name == "problem_response":
                    for value in _code_arguments(node, first=0 if name.endswith("Error") else 1):
                        found.setdefault(value, f"{path.relative_to(ROOT)}:{node.lineno}")
            if isinstance(node, ast.ClassDef) and node.name == "IssueCode":
                for statement in node.body:
                    if isinstance(statement, ast.Assign) and isinstance(
                        statement.value, ast.Constant
                    ):
                        found.setdefault(str(statement.value.value), "IssueCode")
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "CODE_BY_STATUS" for t in node.targets
            ):
                assert isinstance(node.value, ast.Dict)
                for value in node.value.values:
                    assert isinstance(value, ast.Constant)
                    found.setdefault(str(value.value), "CODE_BY_STATUS")
    return {code: where for code, where in found.items() if CODE.match(code)}


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


def _code_arguments(node: ast.Call, *, first: int) -> Iterator[str]:
    values: list[Any] = node.args[first : first + 1]
    values += [keyword.value for keyword in node.keywords if keyword.arg == "code"]
    for value in values:
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            yield value.value


def test_every_raised_code_is_in_the_error_codes_reference() -> None:
    page = _page("error-codes.md")
    documented = set(TICKED_CODE.findall(page))
    missing = {code: where for code, where in _raised_codes().items() if code not in documented}
    assert missing == {}


def test_every_listed_error_code_exists() -> None:
    page = _page("error-codes.md")
    listed = _first_column_codes(page)
    listed.update(TICKED_CODE.findall(page.split("## Expressions at run time")[1].split("##")[0]))
    listed.update(TICKED_CODE.findall(page.split("Configuration errors")[1]))
    assert len(listed) > 80
    literals = _string_literals()
    assert sorted(listed - literals - RETIRED_CODES) == []


# --- events.md --------------------------------------------------------------------------


def _state_event(name: str) -> bool:
    """`run.<state>` and `task.<state>`: documented by their rule, not one by one."""
    kind, _dot, state = name.partition(".")
    states = {s.value for s in RunStatus} if kind == "run" else {s.value for s in TaskStatus}
    return kind in ("run", "task") and state in states


def test_every_event_type_in_the_source_is_in_the_events_reference() -> None:
    page = _page("events.md")
    documented = set(TICKED_CODE.findall(page)) | set(TICKED_CODE.findall(_page("error-codes.md")))
    emitted = {
        literal
        for literal in _string_literals()
        if CODE.match(literal) and literal.split(".")[0] in EVENT_PREFIXES
    }
    missing = {
        name
        for name in emitted - documented - NOT_EVENTS
        if not _state_event(name)  # the `run.<state>` rule covers these
    }
    assert sorted(missing) == []
    assert "named `run.<state>` and `task.<state>`" in page


def test_every_listed_event_type_exists() -> None:
    listed = _first_column_codes(_page("events.md"))
    assert len(listed) > 30
    literals = _string_literals()
    unknown = {name for name in listed - literals if not _state_event(name)}
    assert sorted(unknown) == []


# --- cli.md -----------------------------------------------------------------------------


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            yield from _commands(sub, (*path, name))
    else:
        yield path, command


def _cli_sections() -> dict[str, str]:
    """`## basir run` (or `` ## `basir queues` ``) → the text of that section."""
    sections: dict[str, str] = {}
    current: str | None = None
    for line in _page("cli.md").splitlines():
        heading = re.match(r"^## `?basir (\w+)", line)
        if heading:
            current = heading.group(1)
            sections[current] = ""
        elif line.startswith("## "):
            current = None
        elif current is not None:
            sections[current] += line + "\n"
    return sections


def test_every_command_and_option_is_in_its_cli_reference_section() -> None:
    sections = _cli_sections()
    root = typer.main.get_command(build_app())
    missing: list[str] = []
    commands = list(_commands(root))
    assert len(commands) > 30
    for path, command in commands:
        section = sections.get(path[0])
        if section is None:
            missing.append(" ".join(path))
            continue
        missing += [sub for sub in path[1:] if not re.search(rf"\b{sub}\b", section)]
        for param in command.params:
            options = [o for o in getattr(param, "opts", ()) if o.startswith("-")]
            shown = any(re.search(re.escape(o) + r"(?![\w-])", section) for o in options)
            if options and "--help" not in options and not shown:
                missing.append(f"{' '.join(path)} {'/'.join(options)}")
    assert missing == []
    planned = _page("cli.md").split("## Planned commands")[1]
    for name in re.findall(r"`basir (\w+)", planned):
        assert name not in {path[0] for path, _command in commands}, name
