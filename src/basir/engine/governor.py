"""The governor: reservations and namespace quotas, as the engine's admission applies them.

Admission asks it before the allocator (`check`), tells it what a started attempt took
(`took`) and gave back (`released`), and when a run ended (`run_ended`).  It keeps what each
namespace, and each reservation holder, holds now; the decisions themselves are the pure
functions of `resources.quotas` and `resources.reservations`.  No I/O: the reservations and
quotas it applies are loaded and changed by `engine.resource_policies`.

Which reservations are in force is computed once per boundary (a window opening or closing),
not per task, so 10,000 waiting tasks cost one window walk, not 10,000.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from basir.engine.state import RunState
from basir.errors import BasirError
from basir.i18n import defer, lazy
from basir.resources.fitting import CPU, MEMORY, show_amount
from basir.resources.quotas import HOUR_S, Block, Quota, Usage, run_refusal, task_block
from basir.resources.reservations import in_force, withheld
from basir.resources.windows import Reservation, next_start
from basir.scheduler.cron import utc_iso
from basir.states import RUN_TERMINAL

Key = tuple[str, str]
LOOKAHEAD_S = 86_400.0  # the in-force set is recomputed at least this often


@dataclass(slots=True)
class _Tally:
    tasks: int = 0
    cpu: int = 0
    memory: int = 0


class Governor:
    """Reservations and quotas in force, and what each namespace and holder holds now."""

    def __init__(self) -> None:
        self.reservations: dict[str, Reservation] = {}
        # Held while a reservation is checked and stored (the check reads, then writes).
        self.writing = asyncio.Lock()
        self.quotas: dict[str, Quota] = {}
        self._held: dict[Key, tuple[str, str, dict[str, int]]] = {}  # ns, workflow, request
        self._tally: dict[str, _Tally] = {}
        self._used: dict[tuple[str, str, str], int] = {}  # (holder kind, holder, pool)
        self._runs: dict[str, dict[str, RunState]] = {}  # namespace -> started runs
        self._starts: dict[str, deque[float]] = {}  # namespace -> run starts (past hour)
        self._active: list[tuple[Reservation, float]] = []
        self._active_span = (0.0, 0.0)  # when the cached in-force set holds: [from, until)

    # ---------------------------------------------------------------- policies

    def set_reservations(self, reservations: Iterable[Reservation]) -> None:
        """Replace the reservations applied (forgets the cached in-force set)."""
        self.reservations = {r.id: r for r in reservations}
        self._active_span = (0.0, 0.0)

    def weights(self) -> dict[str, int]:
        """Fair-share weight per namespace that has a quota."""
        return {ns: quota.weight for ns, quota in self.quotas.items()}

    def in_force(self, now: float) -> list[tuple[Reservation, float]]:
        """Reservations whose window holds `now`, with their window ends (cached by boundary)."""
        if not self.reservations:
            return []
        if not self._active_span[0] <= now < self._active_span[1]:
            self._active = in_force(self.reservations.values(), now)
            boundary = now + LOOKAHEAD_S
            for _reservation, end in self._active:
                boundary = min(boundary, end)
            for reservation in self.reservations.values():
                opens = next_start(reservation, now)
                if opens is not None:
                    boundary = min(boundary, opens)
            self._active_span = (now, boundary)
        return self._active

    def reserved_now(self, now: float) -> dict[str, int]:
        """Per pool, the amount reservations in force hold now (used by their holders or not)."""
        held: dict[str, int] = {}
        for reservation, _end in self.in_force(now):
            held[reservation.pool] = held.get(reservation.pool, 0) + reservation.amount
        return held

    # ---------------------------------------------------------------- decisions

    def usage(self, namespace: str, now: float) -> Usage:
        """What `namespace` holds now (terminal runs and starts older than an hour pruned)."""
        runs = self._runs.get(namespace, {})
        for run_id in [r for r, run in runs.items() if run.record.status in RUN_TERMINAL]:
            del runs[run_id]
        starts = self._starts.get(namespace)
        while starts and starts[0] <= now - HOUR_S:
            starts.popleft()
        tally = self._tally.get(namespace, _Tally())
        return Usage(tally.tasks, tally.cpu, tally.memory, len(runs), tuple(starts or ()))

    def check(
        self,
        run: RunState,
        request: Mapping[str, int],
        capacity: Mapping[str, int],
        in_use: Mapping[str, int],
        now: float,
    ) -> tuple[str, Block] | None:
        """Why the task may not start now (`(pool it waits for, block)`), or None.

        First its namespace's quota, then the reservations of others in force: the amount
        they keep idle for their holders is not this task's to take.
        """
        namespace = run.record.namespace
        quota = self.quotas.get(namespace)
        if quota is not None:
            started = run.id in self._runs.get(namespace, {})
            block = task_block(quota, self.usage(namespace, now), request, started, now)
            if block is not None:
                return f"quota:{namespace}", block
        active = self.in_force(now)
        if not active:
            return None
        kept = withheld([r for r, _end in active], namespace, run.record.workflow, self._used)
        for pool, wanted in request.items():
            holders = kept.get(pool)
            if not holders or wanted <= 0:
                continue
            free = capacity.get(pool, 0) - in_use.get(pool, 0)
            if wanted <= free < wanted + sum(holders.values()):
                return pool, self._reserved_block(pool, holders, active)
        return None

    def _reserved_block(
        self,
        pool: str,
        holders: Mapping[tuple[str, str], int],
        active: list[tuple[Reservation, float]],
    ) -> Block:
        (kind, holder), amount = next(iter(holders.items()))
        ends = [
            end for r, end in active if (r.holder_kind, r.holder, r.pool) == (kind, holder, pool)
        ]
        until = min(ends)
        reason = defer(
            "waiting for {pool}: {amount} reserved for {kind} {holder} until {until}",
            pool=pool,
            amount=show_amount(pool, amount),
            kind=lazy("namespace") if kind == "namespace" else lazy("workflow"),
            holder=holder,
            until=utc_iso(until),
        )
        return Block("reservation", reason, until)

    def refuse_run(self, namespace: str, runs: Iterable[RunState], now: float) -> None:
        """Under a `refuse` quota, raise `quota.exceeded` when a new run may not be accepted;
        otherwise count it as started (it holds a place among the namespace's active runs)."""
        quota = self.quotas.get(namespace)
        if quota is None or quota.policy != "refuse":
            return
        alive = sum(
            1
            for run in runs
            if run.record.namespace == namespace and run.record.status not in RUN_TERMINAL
        )
        base = self.usage(namespace, now)
        usage = Usage(base.tasks, base.cpu, base.memory, alive, base.starts)
        refusal: BasirError | None = run_refusal(quota, usage, now)
        if refusal is not None:
            raise refusal
        self._starts.setdefault(namespace, deque()).append(now)

    # ---------------------------------------------------------------- accounting

    def seed_starts(self, namespace: str, starts: Iterable[float]) -> None:
        """Runs of `namespace` started earlier (another process, before a restart)."""
        known = self._starts.setdefault(namespace, deque())
        merged = sorted([*known, *starts])
        known.clear()
        known.extend(merged)

    def took(self, run: RunState, key: Key, request: Mapping[str, int], now: float) -> None:
        """A task of `run` started holding `request`."""
        namespace, workflow = run.record.namespace, run.record.workflow
        self._held[key] = (namespace, workflow, dict(request))
        self._count(namespace, workflow, request, 1)
        runs = self._runs.setdefault(namespace, {})
        if run.id not in runs:
            runs[run.id] = run
            quota = self.quotas.get(namespace)
            if quota is not None and quota.policy == "queue" and quota.runs_per_hour:
                self._starts.setdefault(namespace, deque()).append(now)

    def holders(self) -> list[Key]:
        """Every attempt counted against its namespace now (the sweeper checks them)."""
        return list(self._held)

    def released(self, key: Key) -> str | None:
        """The attempt of `key` ended: give back its counts; its namespace, if it held any."""
        entry = self._held.pop(key, None)
        if entry is None:
            return None
        namespace, workflow, request = entry
        self._count(namespace, workflow, request, -1)
        return namespace

    def run_ended(self, run: RunState) -> None:
        """`run` ended: it no longer holds a place among its namespace's active runs."""
        runs = self._runs.get(run.record.namespace)
        if runs is not None:
            runs.pop(run.id, None)
            if not runs:
                del self._runs[run.record.namespace]

    def _count(self, namespace: str, workflow: str, request: Mapping[str, int], sign: int) -> None:
        tally = self._tally.setdefault(namespace, _Tally())
        tally.tasks += sign
        tally.cpu += sign * request.get(CPU, 0)
        tally.memory += sign * request.get(MEMORY, 0)
        for pool, amount in request.items():
            for holder in (("namespace", namespace), ("workflow", workflow)):
                slot = (*holder, pool)
                left = self._used.get(slot, 0) + sign * amount
                if left:
                    self._used[slot] = left
                else:
                    self._used.pop(slot, None)
