"""A run's parameters, checked against the workflow's declared `params` (see `spec.values`)."""

from __future__ import annotations

import json
from typing import Any

from basir.errors import BasirError
from basir.i18n import _
from basir.spec.errors import SpecError, format_path
from basir.spec.models import WorkflowSpec
from basir.spec.values import resolve_params as check_params

MAX_PARAMS_BYTES = 1024 * 1024


def resolve_params(
    spec: WorkflowSpec, given: dict[str, Any] | None, *, from_text: bool = False
) -> dict[str, Any]:
    """Validated parameters with defaults filled in, or `run.invalid_params` listing each problem.

    With `from_text`, string values are parsed into the declared type (`-p key=value`).
    """
    given = dict(given or {})
    if len(json.dumps(given, default=str)) > MAX_PARAMS_BYTES:
        raise BasirError("run.invalid_params", _("parameters are larger than 1 MiB"))
    try:
        return check_params(spec.params, given, from_text=from_text)
    except SpecError as error:
        details = [
            {"field": format_path(issue.path), "message": issue.message} for issue in error.issues
        ]
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details)
        raise BasirError("run.invalid_params", summary, details=details) from None
