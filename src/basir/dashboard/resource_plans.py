"""The resources page's planning sections: reservations on a timeline, quotas with their use,
and the forecast, as rows the templates draw.

Pure: records and figures in, rows out.  The timeline covers `TIMELINE_S` from the start of
the current UTC hour; each window of a reservation is a bar placed in whole percent of it
(CSS classes `tl-at-N` and `tl-w-N` of `static/resources.css`, since the page's CSP allows no
inline style), with `inset-inline-start`, so the bars mirror in a right-to-left page.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from basir.i18n import _
from basir.resources.fitting import CPU, MILLI
from basir.resources.reservations import ReservationInput
from basir.resources.windows import Reservation, next_start, window_at, windows_between

HOUR_S = 3600.0
TIMELINE_S = 48 * HOUR_S
TICK_S = 6 * HOUR_S
LABEL_EVERY_S = 12 * HOUR_S  # a weekday and time every 12 h fits even in Arabic
LAST_LABEL_AT = 80  # percent: a label further along would run off the track
MAX_BARS_PER_LANE = 24
PERCENT = 100
QUOTA_LIMITS = ("tasks", "cpu", "memory", "runs", "runs_per_hour")
USE_OF = {"runs_per_hour": "runs_past_hour"}


@dataclass(frozen=True, slots=True)
class Bar:
    """One window of a reservation on the timeline: where it starts and how wide, in percent."""

    start: float
    end: float
    at: int
    width: int
    active: bool


@dataclass(slots=True)
class Lane:
    """One reservation: what it holds for whom, its windows in view, its state now."""

    reservation: Reservation
    amount: float  # cores for cpu, bytes for memory, slots otherwise
    active: bool
    until: float | None
    next: float | None
    bars: list[Bar] = field(default_factory=list)
    more: bool = False  # more windows in view than `MAX_BARS_PER_LANE` (the first are shown)


@dataclass(frozen=True, slots=True)
class Timeline:
    """The reservations from `start` to `end`: lanes, now in percent, and ticks
    `(percent, time, labelled)`: a line every `TICK_S`, a label on those at 00:00 and 12:00 UTC."""

    start: float
    end: float
    now_at: int
    ticks: list[tuple[int, float, bool]]
    lanes: list[Lane]


def percent_at(moment: float, start: float, end: float) -> float:
    """Where `moment` falls between `start` and `end`, 0..100 (clamped)."""
    share = (moment - start) / (end - start) if end > start else 0.0
    return min(float(PERCENT), max(0.0, PERCENT * share))


def placed(lo: float, hi: float, start: float, end: float) -> tuple[int, int]:
    """A window `[lo, hi)` as `(at, width)` in whole percent: never narrower than 1, never
    past 100, and covering the whole window (start rounded down, end up)."""
    at = min(PERCENT - 1, math.floor(percent_at(lo, start, end)))
    right = math.ceil(percent_at(hi, start, end))
    return at, max(1, min(PERCENT, right) - at)


def timeline(reservations: Sequence[Reservation], now: float) -> Timeline:
    """Every reservation (by pool, holder, id) with its windows in the coming `TIMELINE_S`."""
    start = now - now % HOUR_S
    end = start + TIMELINE_S
    lanes = []
    ordered = sorted(reservations, key=lambda r: (r.pool, r.holder_kind, r.holder, r.id))
    for reservation in ordered:
        current = window_at(reservation, now)
        amount = reservation.amount / MILLI if reservation.pool == CPU else reservation.amount
        lane = Lane(
            reservation,
            amount,
            active=current is not None,
            until=current[1] if current is not None else None,
            next=next_start(reservation, now),
        )
        found = windows_between(reservation, start, end, MAX_BARS_PER_LANE)
        lane.more = len(found) > MAX_BARS_PER_LANE
        for lo, hi in found[:MAX_BARS_PER_LANE]:
            at, width = placed(lo, hi, start, end)
            lane.bars.append(Bar(lo, hi, at, width, lo <= now < hi))
        lanes.append(lane)
    first_tick = start + (-start) % TICK_S
    ticks = []
    moment = first_tick
    while moment < end:
        at = round(percent_at(moment, start, end))
        ticks.append((at, moment, moment % LABEL_EVERY_S == 0 and at <= LAST_LABEL_AT))
        moment += TICK_S
    return Timeline(start, end, round(percent_at(now, start, end)), ticks, lanes)


@dataclass(frozen=True, slots=True)
class Limit:
    """One limit of a quota: what is in use, the limit (None: unlimited), the share 0..100."""

    name: str
    used: float
    limit: float | None
    percent: int | None


@dataclass(frozen=True, slots=True)
class QuotaRow:
    """A namespace's quota as the page shows it."""

    namespace: str
    limits: list[Limit]
    policy: str
    weight: int


def quota_row(quota: Mapping[str, Any]) -> QuotaRow:
    """A quota with its use (`resource_policies.get_quota`): each limit beside what is held."""
    in_use = quota.get("in_use", {})
    limits = []
    for name in QUOTA_LIMITS:
        used = float(in_use.get(USE_OF.get(name, name), 0))
        limit = quota.get(name)
        share = None
        if limit is not None:
            share = PERCENT if limit <= 0 else min(PERCENT, round(PERCENT * used / limit))
        limits.append(Limit(name, used, None if limit is None else float(limit), share))
    return QuotaRow(str(quota["namespace"]), limits, str(quota["policy"]), int(quota["weight"]))


@dataclass(frozen=True, slots=True)
class ForecastRow:
    """One pool's forecast: use now and its trend in percent, and when it saturates."""

    pool: str
    capacity: float
    now_percent: float
    trend_percent_per_day: float
    peak_percent: float
    saturates_at: float | None
    saturated: bool


def forecast_rows(pools: Sequence[Mapping[str, Any]]) -> list[ForecastRow]:
    """The pools of `resource_report.forecast`, soonest to saturate first, then by name."""
    rows = [
        ForecastRow(
            pool=str(p["pool"]),
            capacity=float(p["capacity"]),
            now_percent=round(PERCENT * float(p["utilisation_now"]), 1),
            trend_percent_per_day=round(PERCENT * float(p["trend_per_day"]), 1),
            peak_percent=round(PERCENT * float(p["daily_peak_offset"]), 1),
            saturates_at=None if p["saturates_at"] is None else float(p["saturates_at"]),
            saturated=p["saturates_in_s"] is not None and float(p["saturates_in_s"]) <= 0,
        )
        for p in pools
    ]
    return sorted(rows, key=lambda r: (r.saturates_at is None, r.saturates_at or 0.0, r.pool))


QUOTA_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
WHOLE_FIELDS = ("tasks", "runs", "runs_per_hour", "weight")
MAX_FIELD_CHARS = 32


def quota_form(form: Mapping[str, Any]) -> tuple[str, dict[str, Any], dict[str, str]]:
    """The namespace and the API body of a posted quota form, and errors by field.

    Empty fields are left out (unlimited; weight 1); whole numbers and cores are parsed here,
    sizes, ranges and the policy are checked by `resources.quotas.checked_quota`, as for the API.
    """
    errors: dict[str, str] = {}
    namespace = str(form.get("namespace") or "").strip()
    if not QUOTA_NAME.match(namespace):
        errors["namespace"] = _("lower-case letters, digits, '.', '_' or '-', such as mobile")
    body: dict[str, Any] = {"policy": str(form.get("policy") or "queue")}
    for name in (*WHOLE_FIELDS, "cpu", "memory"):
        text = str(form.get(name) or "").strip()
        if not text:
            continue
        if len(text) > MAX_FIELD_CHARS:
            errors[name] = _("at most {n} characters", n=MAX_FIELD_CHARS)
        elif name == "memory":
            body[name] = text
        elif name == "cpu":
            try:
                body[name] = float(text)
            except ValueError:
                errors[name] = _("a number of cores, such as 0.5 or 4")
        elif text.isdigit():
            body[name] = int(text)
        else:
            errors[name] = _("a whole number, such as 4")
    return namespace, body, errors


RESERVATION_FIELDS = (
    "pool", "amount", "holder_kind", "holder", "from", "to", "cron", "duration", "timezone",
)  # fmt: skip
LOCAL_MINUTE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$")
MAX_CRON_CHARS = 200
PLAIN_NUMBER = re.compile(r"^\d{1,12}(\.\d{1,6})?$")


def _instant_text(text: str) -> str:
    """A `datetime-local` value (no offset) is read as UTC, as the form says."""
    return f"{text}+00:00" if LOCAL_MINUTE.match(text) else text


def reservation_form(form: Mapping[str, Any]) -> tuple[ReservationInput, dict[str, str]]:
    """The reservation of a posted form, and errors by field.

    Only the form's own shape is checked here (names, lengths); the times, cron, zone, amount
    and over-commitment are checked by the same service as the API's.
    """
    values = {name: str(form.get(name) or "").strip() for name in RESERVATION_FIELDS}
    errors: dict[str, str] = {}
    for name in ("pool", "holder"):
        if not QUOTA_NAME.match(values[name]):
            errors[name] = _("lower-case letters, digits, '.', '_' or '-', such as mobile")
    for name, text in values.items():
        if len(text) > (MAX_CRON_CHARS if name == "cron" else MAX_FIELD_CHARS + 32):
            errors[name] = _("at most {n} characters", n=MAX_FIELD_CHARS + 32)
    if not values["amount"]:
        errors["amount"] = _("give an amount: cores for cpu, a size for memory, slots otherwise")
    text = values["amount"]
    amount: float | str = float(text) if PLAIN_NUMBER.match(text) else text  # else a size
    workflow = values["holder_kind"] == "workflow"
    given = ReservationInput(
        pool=values["pool"],
        amount=amount,
        namespace=None if workflow else values["holder"],
        workflow=values["holder"] if workflow else None,
        start=_instant_text(values["from"]) if values["from"] else None,
        end=_instant_text(values["to"]) if values["to"] else None,
        cron=values["cron"] or None,
        duration=values["duration"] or None,
        timezone=values["timezone"] or "UTC",
    )
    return given, errors
