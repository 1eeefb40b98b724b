"""The near-future heap: due schedules in order, none lost or doubled as they change, bounded."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from basir.scheduler.near_future import NearFuture
from basir.store.records import ScheduleRecord


def rec(schedule_id: str, due_at: float | None, **fields: object) -> ScheduleRecord:
    record = ScheduleRecord(schedule_id, "w", 0, "* * * * *", "UTC", {}, "h", due_at=due_at)
    for name, value in fields.items():
        setattr(record, name, value)
    return record


def loaded(records: list[ScheduleRecord], until: float = 100.0, limit: int = 100) -> NearFuture:
    near = NearFuture(limit)
    near.load(records, until, "t1")
    return near


def test_due_ones_come_soonest_first_and_once() -> None:
    near = loaded([rec("a", 5.0), rec("b", 1.0), rec("c", 3.0), rec("d", 50.0)])
    assert [r.id for r in near.take_due(4.0, 10)] == ["b", "c"]
    assert near.take_due(4.0, 10) == []  # taken: not offered again until put back
    assert [r.id for r in near.take_due(60.0, 1)] == ["a"]  # at most `limit`
    assert [r.id for r in near.take_due(60.0, 10)] == ["d"]
    assert len(near) == 0


def test_put_back_moves_a_schedule_and_drop_forgets_it() -> None:
    near = loaded([rec("a", 1.0), rec("b", 2.0)])
    [a] = near.take_due(1.0, 10)
    a.due_at = 30.0  # as its fire left it
    near.put(a)
    near.put(rec("b", 40.0))  # changed: the copy held before is replaced, not doubled
    assert near.soonest() == 30.0
    near.drop("a")
    assert [r.id for r in near.take_due(99.0, 10)] == ["b"]
    assert near.soonest() is None


def test_past_the_horizon_paused_or_without_fire_is_let_go() -> None:
    near = loaded([rec("a", 1.0)], until=10.0)
    near.put(rec("late", 10.0))
    near.put(rec("paused", 2.0, paused=True))
    near.put(rec("done", None))
    assert len(near) == 1


def test_queued_fires_are_offered_at_every_tick() -> None:
    near = loaded([rec("q", 500.0, queued=[1.0]), rec("a", 2.0)])
    assert [r.id for r in near.take_due(3.0, 10)] == ["a", "q"]
    near.put(rec("q", 500.0, queued=[1.0]))  # its previous run still runs: held again
    assert [r.id for r in near.take_due(3.5, 10)] == ["q"]


def test_covers_only_its_token_and_before_its_horizon() -> None:
    near = NearFuture(10)
    assert not near.covers(0.0, "t1")  # nothing loaded
    near.load([], 100.0, "t1")
    assert near.covers(99.0, "t1")
    assert not near.covers(100.0, "t1")
    assert not near.covers(1.0, "t2")  # the store's schedules changed since
    near.forget()
    assert not near.covers(1.0, "t1") and not near.loaded


def test_a_load_cut_short_is_complete_only_before_its_last_due() -> None:
    near = NearFuture(3)
    near.load([rec("a", 1.0), rec("b", 2.0), rec("c", 4.0)], 100.0, "t")  # 3 of maybe more
    assert near.horizon == 4.0
    assert near.covers(3.9, "t") and not near.covers(4.0, "t")
    assert [r.id for r in near.take_due(3.0, 10)] == ["a", "b"]


def test_memory_is_bounded_and_a_full_heap_shortens_its_horizon() -> None:
    near = loaded([rec(f"s{i}", float(i)) for i in range(3)], until=100.0, limit=3)
    assert near.horizon == 2.0  # a full load: nothing known past its last
    near = loaded([rec("a", 1.0), rec("b", 2.0)], until=100.0, limit=3)
    near.put(rec("c", 50.0))
    near.put(rec("d", 20.0))  # no room: the heap no longer answers from 20 on
    assert len(near) == 3 and near.horizon == 20.0


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["put", "drop", "take"]),
            st.integers(0, 7),  # schedule
            st.integers(0, 40),  # due_at, or how far the clock moves
        ),
        max_size=60,
    ),
    st.integers(1, 8),
)
def test_takes_every_due_schedule_once_in_order(
    ops: list[tuple[str, int, int]], limit: int
) -> None:
    """Against a plain model (the store): whatever is put, moved or dropped, each take is
    exactly the held schedules due by then, soonest first, and the size stays bounded."""
    near = NearFuture(limit=100)
    near.load([], 10_000.0, "t")  # beyond any clock below
    model: dict[str, float] = {}  # what the store says is due when
    now = 0.0
    for op, index, amount in ops:
        schedule_id = f"s{index}"
        if op == "put":
            due_at = now + amount
            near.put(rec(schedule_id, due_at))
            model[schedule_id] = due_at
        elif op == "drop":
            near.drop(schedule_id)
            model.pop(schedule_id, None)
        else:
            now += amount
            taken = near.take_due(now, limit)
            due = sorted((d, i) for i, d in model.items() if d <= now)
            assert [r.due_at for r in taken] == [d for d, _i in due][:limit]
            assert {r.id for r in taken} <= {i for _d, i in due}
            assert len({r.id for r in taken}) == len(taken)  # none twice
            for record in taken:
                del model[record.id]  # taken: back only when put again
        assert len(near) == len(model) <= 100
