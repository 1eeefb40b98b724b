"""Recommendations: the right kind, numbers and words, in English and Arabic."""

from __future__ import annotations

from typing import Any

from basir.i18n import use_locale
from basir.resources.advice import recommendations, show_window
from basir.resources.planning import TaskProfile

DAY = 86400.0


def pool(name: str, capacity: float, waited: float, peak: float = 1.0) -> dict[str, Any]:
    return {
        "pool": name,
        "capacity": capacity,
        "waited_s": waited,
        "mean_waiting": waited / DAY,
        "utilisation_peak": peak,
        "samples": 100,
    }


def test_a_pool_tasks_waited_for_is_to_be_raised() -> None:
    [advice] = recommendations([pool("gradle", 2, 41 * 60)], [], DAY)
    assert advice["kind"] == "raise_pool"
    assert advice["suggested"] == 3
    assert advice["message"] == (
        "raise pool gradle from 2 to 3: tasks waited 41 min for it in the last 24h"
    )


def test_longest_wait_first_and_short_waits_ignored() -> None:
    found = recommendations(
        [pool("cpu", 2, 30), pool("gpu", 1, 600), pool("gradle", 2, 3600)], [], DAY
    )
    assert [a["pool"] for a in found] == ["gradle", "gpu"]


def test_an_idle_custom_pool_may_shrink_but_not_the_machine() -> None:
    found = recommendations([pool("gpu", 4, 0, peak=0.2), pool("cpu", 8, 0, peak=0.05)], [], DAY)
    assert [(a["kind"], a["pool"], a["suggested"]) for a in found] == [("lower_pool", "gpu", 1)]


def test_disk_is_the_machines_free_space_not_slots() -> None:
    """An idle disk pool (its capacity is free bytes) was told "1 would do" — one byte — and
    a wait for it "raise from 82754506752 to 82754506753"."""
    idle = pool("disk", 82754506752, 0, peak=0.0)
    assert recommendations([idle], [], DAY) == []
    [advice] = recommendations([pool("disk", 82754506752, 3600)], [], DAY)
    assert advice["kind"] == "raise_pool" and "suggested" not in advice
    assert advice["message"] == (
        "free space for pool disk or lower what tasks declare: tasks waited 60 min for it in"
        " the last 24h"
    )


def test_memory_waits_advise_without_a_number() -> None:
    [advice] = recommendations([pool("memory", 8 << 30, 7200)], [], DAY)
    assert advice["kind"] == "raise_pool" and "suggested" not in advice
    assert "tasks waited 120 min" in advice["message"]


def profile(**values: Any) -> TaskProfile:
    base: dict[str, Any] = {
        "workflow": "flutter-ci",
        "task": "test",
        "declared_cpu": None,
        "declared_memory": None,
        "cpu_p95": 0.0,
        "memory_peak": 0.0,
        "samples": 50,
    }
    return TaskProfile(**{**base, **values})


def test_task_declaring_far_more_cpu_than_it_uses() -> None:
    [advice] = recommendations([], [profile(declared_cpu=4.0, cpu_p95=0.6)], DAY)
    assert advice["kind"] == "lower_request"
    assert advice["suggested"] == 0.8
    assert advice["message"] == "flutter-ci/test declares 4 cpu but used 0.6 at p95: declare 0.8"


def test_task_using_more_cpu_than_declared_and_nearly_all_memory() -> None:
    found = recommendations(
        [],
        [
            profile(
                declared_cpu=1.0, cpu_p95=3.1, declared_memory=1 << 30, memory_peak=0.95 * (1 << 30)
            )
        ],
        DAY,
    )
    assert [(a["kind"], a["resource"]) for a in found] == [
        ("raise_request", "cpu"),
        ("raise_request", "memory"),
    ]
    assert found[0]["suggested"] == 3.5
    assert "raise it to 1472Mi" in found[1]["message"]


def test_oversized_memory_and_too_few_samples() -> None:
    [advice] = recommendations([], [profile(declared_memory=4 << 30, memory_peak=300 << 20)], DAY)
    assert advice["message"] == (
        "flutter-ci/test declares 4Gi of memory but used at most 300Mi: declare 512Mi"
    )
    assert recommendations([], [profile(declared_cpu=4.0, cpu_p95=0.1, samples=2)], DAY) == []
    assert recommendations([], [profile(declared_cpu=1.0, cpu_p95=0.8)], DAY) == []  # fine


def test_recommendations_in_arabic() -> None:
    with use_locale("ar"):
        [advice] = recommendations([pool("gradle", 2, 41 * 60)], [], DAY)
    assert "gradle" in advice["message"] and "41" in advice["message"]
    assert "raise pool" not in advice["message"]
    assert any("\u0600" <= ch <= "\u06ff" for ch in advice["message"])


def test_show_window() -> None:
    assert [show_window(s) for s in (86400, 7 * 86400, 7200, 5400, 300)] == [
        "24h",
        "7d",
        "2h",
        "90m",
        "5m",
    ]
