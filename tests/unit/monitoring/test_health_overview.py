"""The health overview's verdicts, from plain facts."""

from __future__ import annotations

import dataclasses

from basir.i18n import use_locale
from basir.monitoring.health_overview import AMBER, GREEN, RED, Facts, assess

CALM = Facts(
    store_answers=True,
    store_retrying=None,
    engine_running=True,
    engine_fault=None,
    slots_used=3,
    slots=8,
    queue_depth=0,
    oldest_wait_s=None,
    firing=0,
    firing_unhandled=0,
)


def statuses(facts: Facts) -> tuple[str, dict[str, str]]:
    """The overall status and each component's."""
    overall, parts = assess(facts)
    return overall, {name: verdict.status for name, verdict in parts.items()}


def test_all_green_when_calm() -> None:
    overall, parts = assess(CALM)
    assert overall == GREEN
    assert set(parts) == {"store", "scheduler", "workers", "queues", "alerts", "disk"}
    assert all(v.status == GREEN and v.reasons == [] for v in parts.values())


def test_each_component_turns_amber_or_red_with_a_reason() -> None:
    cases = [
        ({"store_answers": False}, "store", RED),
        ({"store_retrying": "database is locked"}, "store", AMBER),
        ({"engine_running": False, "engine_fault": "boom"}, "scheduler", RED),
        ({"slots_used": 8}, "workers", AMBER),
        ({"queue_depth": 4, "oldest_wait_s": 120.0}, "queues", AMBER),
        ({"queue_depth": 4, "oldest_wait_s": 3600.0}, "queues", RED),
        ({"queue_depth": 4, "oldest_wait_s": 5.0}, "queues", GREEN),
        ({"firing": 2, "firing_unhandled": 1}, "alerts", RED),
        ({"firing": 2, "firing_unhandled": 0}, "alerts", AMBER),
        ({"disk_free_ratio": 0.5}, "disk", GREEN),
        ({"disk_free_ratio": 0.08}, "disk", AMBER),
        ({"disk_free_ratio": 0.01}, "disk", RED),
    ]
    for change, component, expected in cases:
        overall, parts = assess(dataclasses.replace(CALM, **change))  # type: ignore[arg-type]
        assert parts[component].status == expected, (change, parts[component])
        assert overall == expected
        assert bool(parts[component].reasons) == (expected != GREEN)
    _overall, parts = assess(dataclasses.replace(CALM, engine_running=False, engine_fault="boom"))
    assert "boom" in parts["scheduler"].reasons[0]


def test_reasons_are_localised() -> None:
    facts = dataclasses.replace(CALM, firing=3, firing_unhandled=3)
    english = assess(facts)[1]["alerts"].reasons[0]
    with use_locale("ar"):
        arabic = assess(facts)[1]["alerts"].reasons[0]
    assert english == "3 alerts firing, not acknowledged"
    assert arabic != english and "3" in arabic
