"""Tasks added to a live run: one check for the API and the engine (`spec.patch`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from basir.errors import BasirError
from basir.spec.models import MAX_TASKS
from basir.spec.patch import graph_problems, parse_added_tasks, schema_problems
from basir.spec.templates import TemplateResolver


def test_schema_problems_are_located_and_localised() -> None:
    parsed, problems = schema_problems(
        [
            {"id": "ok", "uses": "noop"},
            {"id": "x", "uses": "noop", "run": "ls"},
            {"id": "y", "uses": "noop", "retries": {"max": "many"}},
        ]
    )
    assert [t.id for t in parsed] == ["ok"]
    by_field = {p["field"]: p for p in problems}
    # The spec's own validator names the second body, with its stable code.
    two_bodies = next(p for f, p in by_field.items() if f.startswith("tasks[1]"))
    assert two_bodies["code"] == "spec.two_bodies"
    assert by_field["tasks[2].retries.max"]["message"] == "must be a whole number"


def test_graph_problems_name_ids_needs_and_cycles() -> None:
    parsed, invalid = schema_problems(
        [
            {"id": "a", "uses": "noop"},
            {"id": "n", "needs": ["ghost"], "uses": "noop"},
            {"id": "p", "needs": ["q"], "uses": "noop"},
            {"id": "q", "needs": ["p", "a"], "uses": "noop"},
        ]
    )
    assert invalid == []
    problems = graph_problems({"a", "b"}, parsed)
    assert [p["field"] for p in problems] == ["tasks[0].id", "tasks[1].needs", "tasks"]
    assert "cycle" in problems[-1]["message"]
    assert graph_problems({"a"}, parsed[1:2]) != []
    assert graph_problems({"ghost"}, parsed[1:2]) == []


def test_parse_added_tasks_lists_every_problem_at_once() -> None:
    with pytest.raises(BasirError) as caught:
        parse_added_tasks({"a"}, [{"id": "a", "uses": "noop"}, {"id": "x", "run": 1}])
    assert caught.value.code == "run.invalid_patch"
    fields = [d["field"] for d in caught.value.details]
    assert "tasks[0].id" in fields and any(f.startswith("tasks[1]") for f in fields)
    with pytest.raises(BasirError) as caught:
        parse_added_tasks(set(), [])
    assert caught.value.details[0]["field"] == "tasks"
    existing = {f"t{i}" for i in range(MAX_TASKS)}
    with pytest.raises(BasirError):
        parse_added_tasks(existing, [{"id": "one-more", "uses": "noop"}])
    assert [
        t.id for t in parse_added_tasks({"a"}, [{"id": "b", "needs": ["a"], "uses": "noop"}])
    ] == ["b"]


def test_added_tasks_are_checked_with_their_templates_resources(tmp_path: Path) -> None:
    """A task added to a live run with a template asking for more than a pool has waited for
    ever ("needs 64 but its capacity is 2"); it is refused like one of its own."""
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "heavy.yaml").write_text(
        "task:\n  run: make\n  resources: {cpu: 64}\n", encoding="utf-8"
    )
    templates = TemplateResolver([tmp_path])
    capacity = {"cpu": 2000, "memory": 1 << 30, "disk": 1 << 30}
    with pytest.raises(BasirError) as caught:
        parse_added_tasks(
            {"a"},
            [
                {"id": "b", "uses": "ci/heavy"},
                {"id": "c", "run": "x", "resources": {"disk": "2Gi"}},
            ],
            capacity,
            templates=templates,
        )
    assert [(d["field"], d["code"]) for d in caught.value.details] == [
        ("tasks[0].uses", "spec.resource_too_large"),
        ("tasks[1].resources.disk", "spec.resource_too_large"),
    ]
    assert caught.value.details[0]["message"] == (
        "task b (from template ci/heavy) asks for 64 of pool cpu, whose capacity is 2;"
        " it could never start"
    )
    own = [{"id": "b", "uses": "ci/heavy", "resources": {"cpu": 1}}]
    assert parse_added_tasks({"a"}, own, capacity, templates=templates)[0].uses == "ci/heavy"
