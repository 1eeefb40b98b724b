"""A run's Gantt timeline: one bar per attempt, from the run's task events.

An attempt starts at `task.started` and ends at the task's next event that leaves `running`
(succeeded, failed, retrying, cancelled, ...); an attempt still running ends "now".  Pure:
events in, bars and an SVG layout out (the template draws them; colours are CSS classes, and
each bar also says its state in words, so colour is never the only cue).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from basir.store.records import EventRecord

MAX_BARS = 300
WIDTH = 1000.0
LABEL_W = 200.0
ROW_H = 22.0
AXIS_H = 24.0
TICKS = 5
END_MARGIN = 24.0  # room for the last tick's label


@dataclass(slots=True)
class Bar:
    """One attempt of one task."""

    task: str
    attempt: int
    start: float
    end: float | None
    status: str


@dataclass(slots=True)
class Placed:
    """A bar placed in the SVG (user units): row `y`, from `x` for `w`."""

    bar: Bar
    x: float
    w: float
    y: float
    seconds: float


@dataclass(slots=True)
class Chart:
    """The laid-out timeline: bars, axis ticks `(x, seconds)`, size, and how many were left out."""

    bars: list[Placed]
    ticks: list[tuple[float, float]]
    height: float
    hidden: int


def attempts(events: Iterable[EventRecord]) -> list[Bar]:
    """Every attempt, in the order they started."""
    bars: list[Bar] = []
    open_bars: dict[str, Bar] = {}
    counts: dict[str, int] = {}
    for event in events:
        task = event.task_id
        if task is None or not event.type.startswith("task."):
            continue
        state = event.type.partition(".")[2]
        if state == "started":
            counts[task] = counts.get(task, 0) + 1
            bar = Bar(task, counts[task], event.time, None, "running")
            open_bars[task] = bar
            bars.append(bar)
        elif task in open_bars and state not in {"held", "released", "running"}:
            bar = open_bars.pop(task)
            bar.end = event.time
            bar.status = state
    return bars


def layout(bars: list[Bar], now: float, *, rtl: bool = False, limit: int = MAX_BARS) -> Chart:
    """Place the latest `limit` bars (what is happening now) on a time axis from the first
    shown start to the last end; `hidden` counts the earlier ones left out.

    In a right-to-left page time runs from right to left (the axis mirrors).
    """
    shown = bars[-limit:] if limit > 0 else []
    if not shown:
        return Chart([], [], 0.0, len(bars))
    t0 = min(b.start for b in shown)
    t1 = max(b.end if b.end is not None else now for b in shown)
    span = max(t1 - t0, 1e-3)
    scale = (WIDTH - LABEL_W - END_MARGIN) / span

    def x_of(t: float, w: float = 0.0) -> float:
        x = LABEL_W + (t - t0) * scale
        return WIDTH - x - w if rtl else x

    placed = []
    for row, bar in enumerate(shown):
        end = bar.end if bar.end is not None else now
        w = max((end - bar.start) * scale, 2.0)
        placed.append(Placed(bar, x_of(bar.start, w), w, AXIS_H + row * ROW_H, end - bar.start))
    ticks = [(x_of(t0 + span * i / TICKS), span * i / TICKS) for i in range(TICKS + 1)]
    return Chart(placed, ticks, AXIS_H + len(shown) * ROW_H + 4, len(bars) - len(shown))
