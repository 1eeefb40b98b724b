"""Limits on active runs: `max_active_runs` of a workflow and a workflow's `concurrency_key` (pure).

A run is *active* from the moment it is admitted (queued → running) until it ends; paused
runs stay active.  Every run of a workflow is counted, whatever its trigger (cron, API, L2
decision, `basir run`, the dashboard) and whatever version it pinned; a run over a limit stays
`queued` until an active one ends.  A workflow-level key counts within its workflow:
`concurrency_key: "${{ params.branch }}"` lets one run per branch be active while runs of other
branches proceed.  Decisions here are pure; `engine.run_gate` applies them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from basir.i18n import defer

K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class RunNeed:
    """What a run of `workflow` must fit to become active."""

    workflow: str
    max_active: int | None = None
    key: str | None = None
    key_limit: int = 1


class RunLimits:
    """Active runs per workflow and per (workflow, key value)."""

    def __init__(self) -> None:
        self.held: dict[str, RunNeed] = {}
        self._active: dict[str, dict[str, None]] = {}
        self._keyed: dict[tuple[str, str], dict[str, None]] = {}

    def active(self, workflow: str) -> int:
        """How many runs of `workflow` are active."""
        return len(self._active.get(workflow, {}))

    def check(self, run_id: str, need: RunNeed) -> str | None:
        """None when the run may become active now; else why not (a deferred message,
        `basir.i18n.defer`: show it with `render_message`)."""
        if run_id in self.held:
            return None
        active = self._active.get(need.workflow, {})
        if need.max_active is not None and len(active) >= need.max_active:
            return defer(
                "waiting for a run of {workflow} to end: {used}/{total} active"
                " (max_active_runs), the first {run}",
                workflow=need.workflow,
                used=len(active),
                total=need.max_active,
                run=_first(active),
            )
        if need.key is not None:
            holders = self._keyed.get((need.workflow, need.key), {})
            if len(holders) >= need.key_limit:
                return defer(
                    "waiting for concurrency key {key}: {used}/{total} in use by run {run}",
                    key=need.key,
                    used=len(holders),
                    total=need.key_limit,
                    run=_first(holders),
                )
        return None

    def take(self, run_id: str, need: RunNeed) -> None:
        """Count the run as active (the caller checked, or it already was before a restart)."""
        if run_id in self.held:
            return
        self.held[run_id] = need
        self._active.setdefault(need.workflow, {})[run_id] = None
        if need.key is not None:
            self._keyed.setdefault((need.workflow, need.key), {})[run_id] = None

    def release(self, run_id: str) -> str | None:
        """The run ended: it no longer counts.  Returns its workflow (None if not counted)."""
        need = self.held.pop(run_id, None)
        if need is None:
            return None
        _drop(self._active, need.workflow, run_id)
        if need.key is not None:
            _drop(self._keyed, (need.workflow, need.key), run_id)
        return need.workflow


def _first(holders: Mapping[str, None]) -> str:
    return next(iter(holders), "-")


def _drop(table: dict[K, dict[str, None]], name: K, run_id: str) -> None:
    holders = table.get(name)
    if holders is not None:
        holders.pop(run_id, None)
        if not holders:
            del table[name]
