"""Which run, task and attempt the code running now works for, for structured logs.

One `ContextVar` holding a small tuple: setting it costs about as much as a dict lookup, so
the engine sets it for every attempt without slowing the hot path, and nothing here imports
structlog (the command line starts without it).  `basir.logconfig` reads it into each record.
"""

from __future__ import annotations

from contextvars import ContextVar, Token

# (run_id, task_id, attempt) of the attempt this asyncio task is running, else None.
ATTEMPT_IDS: ContextVar[tuple[str, str, int] | None] = ContextVar("basir_attempt", default=None)


def enter_attempt(run_id: str, task_id: str, attempt: int) -> Token[tuple[str, str, int] | None]:
    """Mark the current asyncio task as running this attempt; give the token to `leave`."""
    return ATTEMPT_IDS.set((run_id, task_id, attempt))


def leave_attempt(token: Token[tuple[str, str, int] | None]) -> None:
    """Undo `enter_attempt`."""
    ATTEMPT_IDS.reset(token)
