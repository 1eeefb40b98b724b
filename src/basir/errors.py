"""The error every layer raises for a user's mistake: a stable code and a localised message.

Faces map these to exit codes (CLI) and problem+json (API); `kind` tells them how.
"""

from __future__ import annotations

from typing import Any, Literal

ErrorKind = Literal["invalid", "not_found", "conflict", "forbidden", "unauthorized", "limit"]


class BasirError(Exception):
    """A user-facing failure: `code` is stable (e.g. `run.not_found`), `message` is localised."""

    kind: ErrorKind = "invalid"

    def __init__(
        self,
        code: str,
        message: str,
        *,
        kind: ErrorKind | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        if kind is not None:
            self.kind = kind
        self.details = details or []


class NotFoundError(BasirError):
    """A named thing (workflow, version, run, task, decision) does not exist."""

    kind: ErrorKind = "not_found"


class ConflictError(BasirError):
    """The request is valid but the target's state does not allow it (e.g. pause a finished run)."""

    kind: ErrorKind = "conflict"
