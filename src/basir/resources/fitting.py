"""Pure fitting: does a request fit the free part of every pool it names, all or nothing.

Amounts are whole numbers so that sums never drift: `cpu` in millicores (0.5 cpu = 500),
`memory` and `disk` in bytes, a custom pool in slots.  A request fits only if every pool it
names has room for all of it; nothing is ever taken in part, so two tasks never deadlock each
holding half of what they need, and `in_use` never exceeds `capacity` (never over-committed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from basir.spec.models import Resources

CPU = "cpu"
MEMORY = "memory"
DISK = "disk"
SIZED = frozenset({MEMORY, DISK})  # pools counted in bytes, written as sizes (512Mi, 10Gi)
MILLI = 1000

Amounts = Mapping[str, int]


def request_of(resources: Resources | None) -> dict[str, int]:
    """A task's `resources:` as amounts per pool (empty: it needs nothing and always fits)."""
    if resources is None:
        return {}
    request: dict[str, int] = {}
    if resources.cpu is not None:
        request[CPU] = max(1, round(resources.cpu * MILLI))
    if resources.memory is not None:
        request[MEMORY] = int(resources.memory)
    if resources.disk is not None:
        request[DISK] = int(resources.disk)
    for name, slots in resources.pools.items():
        request[name] = request.get(name, 0) + slots
    return request


@dataclass(frozen=True, slots=True)
class Shortfall:
    """One pool a request does not fit now: what it wants and what is there."""

    pool: str
    wanted: int
    in_use: int
    capacity: int


def shortfalls(request: Amounts, capacity: Amounts, in_use: Amounts) -> list[Shortfall]:
    """Every pool where `request` does not fit beside what is in use (empty: it fits).

    A pool that does not exist has capacity 0, so a request for it never fits.
    """
    short: list[Shortfall] = []
    for pool, wanted in request.items():
        if wanted <= 0:
            continue
        total, used = capacity.get(pool, 0), in_use.get(pool, 0)
        if used + wanted > total:
            short.append(Shortfall(pool, wanted, used, total))
    return short


def fits(request: Amounts, capacity: Amounts, in_use: Amounts) -> bool:
    """True when every pool of `request` has room for all of it."""
    return not shortfalls(request, capacity, in_use)


def never_fits(request: Amounts, capacity: Amounts) -> list[Shortfall]:
    """Pools where `request` would not fit even on an idle machine (a missing pool included)."""
    return shortfalls(request, capacity, {})


def show_amount(pool: str, amount: int) -> str:
    """An amount as people write it: cpu in cores (`0.5`), memory in Mi/Gi, slots as is."""
    if pool == CPU:
        return f"{amount / MILLI:g}"
    if pool in SIZED:
        units = (("Ti", 1 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10))
        for unit, size in units:  # exact and short (1025Mi), else rounded (23.5Gi)
            if amount >= size and amount % size == 0 and amount // size < 10_000:
                return f"{amount // size}{unit}"
        for unit, size in units:
            if amount >= size:
                return f"{amount / size:.1f}{unit}"
        return str(amount)
    return str(amount)


def to_amount(pool: str, value: float) -> int:
    """A capacity as configured (cores for cpu, bytes for memory, slots) as a whole amount."""
    return round(value * MILLI) if pool == CPU else int(value)
