"""Cron expressions and time zones of `on.schedule`: checked with cronsim and zoneinfo.

Pure functions that return a localised problem or None, so the validator can report every
bad entry at its `file:line:col`, and the scheduler (roadmap 3) can reuse `cron_fields` to
build its cronsim iterators.  Accepted: 5 fields (minute hour day month weekday), 6 fields
(seconds first, as cronsim reads them) and the macros `@yearly`, `@annually`, `@monthly`,
`@weekly`, `@daily`, `@midnight` and `@hourly`.  Time zones are IANA names (`Asia/Riyadh`,
`UTC`); the machine's `localtime` is refused because it differs from host to host.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime

from basir.i18n import _
from basir.spec.model_errors import suggest

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+-]{0,29}(/[A-Za-z0-9_+-]{1,30}){0,2}$")
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})
# Where cronsim names the field at fault (its messages are English): index in 6 fields.
_CRONSIM_FIELDS = {
    "Bad second": 0,
    "Bad minute": 1,
    "Bad hour": 2,
    "Bad day-of-month": 3,
    "Bad month": 4,
    "Bad day-of-week": 5,
}


def cron_fields(expression: str) -> str:
    """The expression as cronsim reads it: a macro replaced by its fields, spaces normalised."""
    text = " ".join(expression.split())
    return MACROS.get(text.lower(), text)


def _field_names() -> list[str]:
    return [_("second"), _("minute"), _("hour"), _("day of month"), _("month"), _("day of week")]


def cron_problem(expression: str) -> str | None:
    """Why `expression` is not a valid cron, localised; None when cronsim accepts it."""
    text = cron_fields(expression)
    if text.startswith("@"):
        return _(
            "unknown cron macro {macro}: use @yearly, @monthly, @weekly, @daily or @hourly",
            macro=text,
        )
    parts = text.split()
    if len(parts) not in (5, 6):
        return _(
            "a cron has 5 fields (minute hour day month weekday) or 6 (seconds first),"
            " got {count}: {cron}",
            count=len(parts),
            cron=expression,
        )
    from cronsim import CronSim, CronSimError

    try:
        CronSim(text, datetime(2000, 1, 1, tzinfo=UTC))
    except CronSimError as error:
        index = _CRONSIM_FIELDS.get(str(error))
        if index is None:
            return _("not a valid cron: {cron}", cron=expression)
        value = parts[index - 1] if len(parts) == 5 else parts[index]
        return _(
            "bad {field} field {value} in cron {cron}",
            field=_field_names()[index],
            value=value,
            cron=expression,
        )
    return None


@functools.lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    import zoneinfo

    return frozenset(zoneinfo.available_timezones()) - _NOT_ZONES


def timezone_problem(name: str) -> str | None:
    """Why `name` is not an IANA time zone this machine knows, localised; None when it is."""
    from zoneinfo import ZoneInfo

    known = bool(_ZONE_NAME.match(name)) and name not in _NOT_ZONES
    if known:
        try:
            ZoneInfo(name)
        except (ValueError, OSError, KeyError):  # ZoneInfoNotFoundError is a KeyError
            known = False
    if known:
        return None
    # The full list takes a directory walk: read only to suggest a fix for a bad name.
    return _(
        "unknown time zone {zone}: use an IANA name such as Asia/Riyadh or UTC", zone=name
    ) + suggest(name, _zone_names())


# Fires walked at most to find a cron's closest two: enough for every period of a year.
GAP_WALK_FIRES = 500


@functools.lru_cache(maxsize=1024)
def has_gap_within(expression: str, seconds: float) -> float | None:
    """The first gap between two consecutive fires of `expression` that is `seconds` or less,
    or None when there is none in the next `GAP_WALK_FIRES` fires (walked in wall time, from a
    fixed day: the answer is the same on every machine).  Assumes a valid cron.
    """
    from cronsim import CronSim

    sim = CronSim(cron_fields(expression), datetime(2001, 1, 1))
    previous = None
    for _step in range(GAP_WALK_FIRES):
        try:
            fire = next(sim)
        except StopIteration:
            return None
        if previous is not None and (fire - previous).total_seconds() <= seconds:
            return (fire - previous).total_seconds()
        previous = fire
    return None
