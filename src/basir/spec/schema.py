"""JSON Schema (draft 2020-12) of the workflow file, for editors and API clients.

Generated from the pydantic models by alias (`with`, `if`, `json`), so it cannot drift from
what the loader accepts.  Whole-workflow rules (needs, cycles, expressions, templates) are
beyond JSON Schema: `basir validate` checks them.
"""

from __future__ import annotations

from typing import Any

from basir.spec.models import WorkflowSpec

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "urn:basir:l3:workflow:v1"


def workflow_json_schema() -> dict[str, Any]:
    """The JSON Schema of a workflow spec, with `$schema`, `$id` and a title."""
    schema = WorkflowSpec.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": SCHEMA_ID,
        "title": "Basir workflow",
        "description": "A Basir L3 workflow: tasks, their needs, triggers and defaults.",
        **{key: value for key, value in schema.items() if key not in ("title", "description")},
    }
