"""Which task log folders retention removes: expired first, then the oldest over the cap."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from basir.monitoring.log_retention import LogFolder, folders_to_remove

DAY = 86400.0
NOW = 1_000 * DAY


def folder(run_id: str, days_ago: float, size: int = 100) -> LogFolder:
    return LogFolder(run_id, NOW - days_ago * DAY, size)


def test_finished_runs_older_than_the_retention_go_and_active_ones_stay() -> None:
    folders = [folder("old", 40), folder("new", 1), folder("old-active", 90)]
    gone = folders_to_remove(
        folders, now=NOW, keep_s=30 * DAY, max_bytes=0, active=frozenset({"old-active"})
    )
    assert gone == ["old"]


def test_over_the_cap_the_oldest_finished_go_until_under_it() -> None:
    folders = [folder("a", 3, 400), folder("b", 2, 400), folder("c", 1, 400), folder("d", 5, 400)]
    gone = folders_to_remove(folders, now=NOW, keep_s=0, max_bytes=900, active=frozenset({"d"}))
    assert gone == ["a", "b"]


def test_zero_keeps_everything() -> None:
    folders = [folder("a", 4000, 10**9)]
    assert folders_to_remove(folders, now=NOW, keep_s=0, max_bytes=0, active=frozenset()) == []


@given(
    st.lists(
        st.tuples(st.floats(0, 100), st.integers(0, 10_000), st.booleans()),
        max_size=30,
    ),
    st.integers(0, 100_000),
    st.floats(0, 60),
)
def test_what_stays_fits_the_cap_unless_active_and_nothing_active_or_fresh_goes_needlessly(
    specs: list[tuple[float, int, bool]], cap: int, keep_days: float
) -> None:
    folders = [folder(f"r{i}", days, size) for i, (days, size, _a) in enumerate(specs)]
    active = frozenset(f"r{i}" for i, (_d, _s, on) in enumerate(specs) if on)
    gone = set(
        folders_to_remove(folders, now=NOW, keep_s=keep_days * DAY, max_bytes=cap, active=active)
    )
    assert not gone & active
    kept = [f for f in folders if f.run_id not in gone]
    kept_size = sum(f.size for f in kept)
    if cap > 0:
        assert kept_size <= cap or all(f.run_id in active for f in kept if f.size)
    if keep_days > 0:
        assert all(NOW - f.modified_at <= keep_days * DAY or f.run_id in active for f in kept)
    # A removed fresh folder was needed to get under the cap.
    for f in folders:
        if f.run_id in gone and not (keep_days > 0 and NOW - f.modified_at > keep_days * DAY):
            assert cap > 0
