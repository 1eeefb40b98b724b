"""Workflow specs: models, YAML/JSON loading with locations, validation, expressions, templates.

The names below are the package's public face; `basir.spec.<module>` holds the details.
Importing this package reads no files and starts nothing.
"""

from __future__ import annotations

from basir.spec.errors import IssueCode, SpecError, SpecIssue
from basir.spec.expressions import ExpressionError, evaluate, render
from basir.spec.models import Task, WorkflowSpec
from basir.spec.templates import TemplateResolver, expand_template
from basir.spec.validate import load_workflow, load_workflow_file

__all__ = [
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
]
