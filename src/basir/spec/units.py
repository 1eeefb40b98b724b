"""Durations (`500ms`, `30s`, `5m`, `2h`, `1d`) and sizes (`512Mi`, `2Gi`, `1G`), strictly."""

from __future__ import annotations

import re

from basir.i18n import _

MAX_DURATION_S = 366 * 86400.0
MAX_SIZE_BYTES = 1 << 50

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_DURATION_FACTORS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|Ti|K|M|G|T|k|B)?\s*$")
_SIZE_FACTORS = {
    None: 1,
    "B": 1,
    "K": 10**3,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


def parse_duration(value: object) -> float:
    """Seconds from `"30s"`-style text or a plain number of seconds; ValueError when malformed."""
    if isinstance(value, bool):
        raise ValueError(_("a duration must look like 500ms, 30s, 5m, 2h or 1d"))
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(_("a duration must look like 500ms, 30s, 5m, 2h or 1d"))
        seconds = float(match.group(1)) * _DURATION_FACTORS[match.group(2)]
    else:
        raise ValueError(_("a duration must look like 500ms, 30s, 5m, 2h or 1d"))
    if not 0 <= seconds <= MAX_DURATION_S:
        raise ValueError(_("a duration must be between 0 and 366 days"))
    return seconds


def format_duration(seconds: float) -> str:
    """A duration as the spec writes it, in its largest whole unit: `1d`, `90s`, `1.5s`."""
    for unit in ("d", "h", "m", "s"):
        count = seconds / _DURATION_FACTORS[unit]
        if count >= 1 and count == int(count):
            return f"{int(count)}{unit}"
    if seconds >= 1:
        return f"{seconds:g}s"
    return f"{seconds * 1000:g}ms"


def parse_size(value: object) -> int:
    """Bytes from `"512Mi"`-style text or a plain number of bytes; ValueError when malformed."""
    if isinstance(value, bool):
        raise ValueError(_("a size must look like 512Mi, 2Gi or 1G"))
    if isinstance(value, int | float):
        size = float(value)
    elif isinstance(value, str):
        match = _SIZE.match(value)
        if match is None:
            raise ValueError(_("a size must look like 512Mi, 2Gi or 1G"))
        size = float(match.group(1)) * _SIZE_FACTORS[match.group(2)]
    else:
        raise ValueError(_("a size must look like 512Mi, 2Gi or 1G"))
    if not 0 <= size <= MAX_SIZE_BYTES:
        raise ValueError(_("a size must be between 0 and 1Pi"))
    return int(size)
