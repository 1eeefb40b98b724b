"""Pool configuration: capacities as people write them and the pools a process checks against.

Shared by the engine (`engine.admission`, the capacity API) and the command line, which checks
requests against the same pools without running an engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from basir.config import MAX_POOL_SLOTS, POOL_NAME
from basir.errors import BasirError
from basir.i18n import _
from basir.resources.capacity import disk_free_bytes
from basir.resources.fitting import CPU, DISK, MILLI, SIZED
from basir.spec.units import parse_size
from basir.store.base import KeyValueStore

POOL_KIND = "resource_pool"  # store kv: capacity overrides set through the API, by pool name
MAX_POOLS = 1000  # pools of every kind: what the allocator is measured with is 100


def shown(pool: str, amount: int) -> float | int:
    """An amount in the unit people use: cores (may be fractional) for cpu, else as is."""
    return amount / MILLI if pool == CPU else amount


def checked_capacity(pool: str, value: object, known: Mapping[str, int]) -> float:
    """A pool's new capacity, as stored: cores for cpu, bytes for memory and disk, slots.

    Memory and disk may be written as a size (`"16Gi"`).  A name that is not a pool yet makes
    a new custom pool of that many slots (as `BASIR_POOLS` does), if it is a pool name
    (`resources.invalid_pool_name`) and there are fewer than `MAX_POOLS`
    (`resources.too_many_pools`); a capacity that is not a positive amount (whole for slots) is
    `resources.invalid_capacity`.
    """
    if pool not in known:
        if not POOL_NAME.match(pool):
            message = _(
                "{pool} is not a pool name: lower-case letters, digits, '.', '_' and '-',"
                " starting with a letter or digit",
                pool=pool,
            )
            raise BasirError("resources.invalid_pool_name", message)
        if len(known) >= MAX_POOLS:
            message = _("there are {count} pools already, the most there may be", count=len(known))
            raise BasirError("resources.too_many_pools", message, kind="limit")
    amount: float | None = None
    try:
        if pool in SIZED:
            amount = float(parse_size(value))
        elif isinstance(value, int | float | str) and not isinstance(value, bool):
            amount = float(value)
    except ValueError:
        amount = None
    whole = pool == CPU or (amount is not None and amount.is_integer())
    if (
        amount is None
        or not whole
        or not 0 < amount <= (1 << 50 if pool in SIZED else MAX_POOL_SLOTS)
    ):
        message = _(
            "{value} is not a capacity for pool {pool}: give cores for cpu (0.5), a size for"
            " memory (16Gi), a whole number of slots otherwise",
            value=value,
            pool=pool,
        )
        raise BasirError("resources.invalid_capacity", message)
    return amount if pool == CPU else int(amount)


async def configured_pools(
    store: KeyValueStore, custom: Mapping[str, float], data_dir: Path | None = None
) -> dict[str, float]:
    """The custom pools (`BASIR_POOLS`) with the capacity overrides kept in the store on top.

    What an embedded `basir run` or `workflows apply` checks requests against, as the engine
    that will run them does (cores for cpu, bytes for memory and disk, slots); with
    `data_dir`, `disk` is its free space unless configured.
    """
    pools = dict(custom)
    if data_dir is not None and DISK not in pools:
        pools[DISK] = disk_free_bytes(data_dir)
    for name, override in await store.kv_list(POOL_KIND):
        pools[name] = override["capacity"]
    return pools


def stored_resource_problems(
    spec: Mapping[str, Any], pools: Mapping[str, float], template_dirs: Sequence[Path] = ()
) -> list[dict[str, str]]:
    """What of a stored workflow could never fit the pools as they are now (empty: all can).

    A version checked when it was applied may no longer fit: a capacity lowered since, a custom
    pool gone.  Each task's request — its own, its template's, else `defaults.resources` — is
    checked as `spec.patch.resource_problems` checks added tasks (`field`, `message`, `code`);
    `engine.run_fit` holds the check, which the engine also makes on every new run.
    """
    from basir.engine.run_fit import fit_problems
    from basir.resources.capacity import pool_capacities
    from basir.spec.models import WorkflowSpec
    from basir.spec.templates import TemplateResolver

    parsed = WorkflowSpec.model_validate(spec)
    templates = TemplateResolver(list(template_dirs))
    return fit_problems(parsed, pool_capacities(pools), templates)
