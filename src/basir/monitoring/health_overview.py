"""The health overview: green, amber or red for each part of Basir, with reasons.

`assess` is pure: the route gathers `Facts` (store ping, the engine's state, its queue and
slots, the firing alerts) and gets one verdict per component, the worst being the overall
status.  Reasons are localised when they are made, so build them inside the request's locale.
`/readyz` stays the probe for orchestrators; this is for people and dashboards.  The disk is
that of BASIR_HOME (logs, the SQLite store): amber under 10 % free, red under 5 %.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from basir.i18n import _, ngettext

GREEN, AMBER, RED = "green", "amber", "red"
_RANK = {GREEN: 0, AMBER: 1, RED: 2}
QUEUE_WAIT_AMBER_S = 60.0
QUEUE_WAIT_RED_S = 15 * 60.0
DISK_FREE_AMBER = 0.10
DISK_FREE_RED = 0.05


@dataclass(frozen=True, slots=True)
class Facts:
    """What the overview is decided from, gathered by the route."""

    store_answers: bool
    store_retrying: str | None
    engine_running: bool
    engine_fault: str | None
    slots_used: int
    slots: int
    queue_depth: int
    oldest_wait_s: float | None
    firing: int
    firing_unhandled: int  # firing, neither acknowledged nor silenced
    disk_free_ratio: float | None = None  # of the disk holding BASIR_HOME


@dataclass(slots=True)
class Verdict:
    """One component's status and why."""

    status: str = GREEN
    reasons: list[str] = field(default_factory=list)

    def worse(self, status: str, reason: str) -> None:
        """Raise the status to `status` (never lower it) and add the reason."""
        if _RANK[status] > _RANK[self.status]:
            self.status = status
        self.reasons.append(reason)


def _store(facts: Facts) -> Verdict:
    verdict = Verdict()
    if not facts.store_answers:
        verdict.worse(RED, _("the store does not answer"))
    elif facts.store_retrying is not None:
        verdict.worse(AMBER, _("writes fail and are retried: {error}", error=facts.store_retrying))
    return verdict


def _scheduler(facts: Facts) -> Verdict:
    verdict = Verdict()
    if not facts.engine_running:
        reason = facts.engine_fault or _("not started")
        verdict.worse(RED, _("the engine is not running: {reason}", reason=reason))
    return verdict


def _workers(facts: Facts) -> Verdict:
    verdict = Verdict()
    if facts.slots and facts.slots_used >= facts.slots:
        verdict.worse(
            AMBER,
            _("every slot is busy ({used} of {slots})", used=facts.slots_used, slots=facts.slots),
        )
    return verdict


def _queues(facts: Facts) -> Verdict:
    verdict = Verdict()
    wait = facts.oldest_wait_s
    if wait is None or facts.queue_depth == 0:
        return verdict
    minutes = f"{wait / 60:.0f}"
    if wait >= QUEUE_WAIT_RED_S:
        verdict.worse(RED, _("a task has waited {minutes} min to start", minutes=minutes))
    elif wait >= QUEUE_WAIT_AMBER_S:
        verdict.worse(AMBER, _("a task has waited {minutes} min to start", minutes=minutes))
    return verdict


def _alerts(facts: Facts) -> Verdict:
    verdict = Verdict()
    if facts.firing_unhandled:
        count = facts.firing_unhandled
        verdict.worse(
            RED,
            ngettext(
                "{count} alert firing, not acknowledged",
                "{count} alerts firing, not acknowledged",
                count,
                count=count,
            ),
        )
    elif facts.firing:
        verdict.worse(
            AMBER,
            ngettext(
                "{count} alert firing, acknowledged or silenced",
                "{count} alerts firing, acknowledged or silenced",
                facts.firing,
                count=facts.firing,
            ),
        )
    return verdict


def _disk(facts: Facts) -> Verdict:
    verdict = Verdict()
    free = facts.disk_free_ratio
    if free is None:
        return verdict
    percent = f"{free * 100:.1f}"
    if free < DISK_FREE_RED:
        verdict.worse(RED, _("the disk is nearly full: {percent}% free", percent=percent))
    elif free < DISK_FREE_AMBER:
        verdict.worse(AMBER, _("the disk is filling up: {percent}% free", percent=percent))
    return verdict


def assess(facts: Facts) -> tuple[str, dict[str, Verdict]]:
    """The overall status (the worst) and each component's verdict."""
    components = {
        "store": _store(facts),
        "scheduler": _scheduler(facts),
        "workers": _workers(facts),
        "queues": _queues(facts),
        "alerts": _alerts(facts),
        "disk": _disk(facts),
    }
    overall = max((v.status for v in components.values()), key=_RANK.__getitem__)
    return overall, components
