"""Issue formatting, the JSON Schema export and the package's public names."""

from __future__ import annotations

import basir.spec
from basir.spec.errors import SpecError, SpecIssue, finish_issues, format_path
from basir.spec.schema import workflow_json_schema


def test_format_path() -> None:
    assert format_path(("tasks", 2, "needs", 0)) == "tasks[2].needs[0]"
    assert format_path(("env", "A B")) == 'env["A B"]'
    assert format_path(()) == ""


def test_issue_format() -> None:
    issue = SpecIssue("spec.cycle", "cycle", ("tasks", 1, "needs", 0), 7, 12)
    assert issue.format("ci.yaml") == "ci.yaml:7:12: tasks[1].needs[0]: cycle"
    assert SpecIssue("spec.too_large", "too big").format("ci.yaml") == "ci.yaml: too big"
    assert issue.to_dict() == {
        "code": "spec.cycle",
        "message": "cycle",
        "path": "tasks[1].needs[0]",
        "line": 7,
        "col": 12,
    }


def test_spec_error_lists_all_issues() -> None:
    error = SpecError([SpecIssue("a", "one", (), 1, 1), SpecIssue("b", "two", (), 2, 1)], "f.yaml")
    assert str(error) == "f.yaml:1:1: one\nf.yaml:2:1: two"
    assert error.codes == ["a", "b"]


def test_finish_issues_sorts_dedupes_and_caps() -> None:
    many = [SpecIssue("x", f"m{i}", (), i + 1, 1) for i in range(250)]
    finished = finish_issues([*reversed(many), many[0]])
    assert finished[0].line == 1
    assert len(finished) == 201
    assert finished[-1].code == "spec.too_many_issues"


def test_json_schema_export() -> None:
    schema = workflow_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].startswith("urn:basir:")
    assert schema["title"] == "Basir workflow"
    assert {"name", "tasks", "on"} <= set(schema["properties"])
    task = schema["$defs"]["Task"]["properties"]
    assert {"with", "if", "needs", "foreach"} <= set(task)
    assert "json" in schema["$defs"]["HttpCall"]["properties"]
    assert schema["additionalProperties"] is False


def test_public_names_are_pinned() -> None:
    assert set(basir.spec.__all__) == {
        "ExpressionError",
        "IssueCode",
        "SpecError",
        "SpecIssue",
        "Task",
        "TemplateResolver",
        "WorkflowSpec",
        "evaluate",
        "expand_template",
        "load_workflow",
        "load_workflow_file",
        "render",
    }
    for name in basir.spec.__all__:
        assert getattr(basir.spec, name) is not None
