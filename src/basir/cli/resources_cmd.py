"""`basir resources status | pool set NAME CAPACITY` (analytics, recommendations and forecast
are in `cli.resources_analysis_cmd`; reserve, quota in `cli.resource_policies_cmd`).

With `--server URL`, the live view of that server's engine: every pool with its capacity, what
is in use and by whom, and the tasks waiting with their reasons.  Without it, the embedded
store's configuration: capacities (detected, `BASIR_POOLS`, overrides set here or through the
API); what is in use is known only to the process running the engine, so it shows as `-`.
`pool set` keeps a capacity in the store — of an existing pool, or of a new custom pool — and
a server applies it at once (through `--server`) or when it next starts.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Annotated, Any

import typer

from basir.cli.common import opened_store, out_console, run_async, settings
from basir.cli.help_page import command_help
from basir.cli.runs_cmd import JsonOption, ServerOption, TokenOption, connected
from basir.i18n import _


@run_async
async def _local_status() -> dict[str, Any]:
    from basir.engine.pool_config import configured_pools, shown
    from basir.resources.capacity import pool_capacities
    from basir.resources.policy_store import reserved_now

    async with opened_store(settings()) as store:
        capacity = pool_capacities(await configured_pools(store, settings().pools, settings().home))
        reserved = await reserved_now(store)
    pools: list[dict[str, Any]] = [
        {
            "name": name,
            "capacity": shown(name, amount),
            "in_use": None,
            "reserved": shown(name, reserved.get(name, 0)),
            "holders": [],
        }
        for name, amount in sorted(capacity.items())
    ]
    return {"pools": pools, "waiting": []}


@run_async
async def _local_set(name: str, value: str) -> dict[str, Any]:
    from basir.engine.pool_config import POOL_KIND, checked_capacity, configured_pools, shown
    from basir.resources.capacity import pool_capacities
    from basir.resources.fitting import to_amount

    async with opened_store(settings()) as store:
        configured = await configured_pools(store, settings().pools, settings().home)
        capacity = checked_capacity(name, _number(value), pool_capacities(configured))
        await store.kv_put(POOL_KIND, name, {"capacity": capacity})
    return {"name": name, "capacity": shown(name, to_amount(name, capacity))}


def _number(value: str) -> float | str:
    """A number as such, anything else as written: a size (16Gi) for memory, or text the
    server refuses with its own message (`nan`, `inf`: not JSON numbers)."""
    try:
        number = float(value)
    except ValueError:
        return value
    return number if math.isfinite(number) else value


def _amount(pool: str, value: float | int | None) -> str:
    from basir.resources.fitting import show_amount, to_amount

    return "-" if value is None else show_amount(pool, to_amount(pool, value))


def _print_status(data: dict[str, Any], json_out: bool) -> None:
    if json_out:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    from rich.table import Table

    waiting_on: dict[str, int] = {}
    for item in data["waiting"]:
        waiting_on[item["pool"]] = waiting_on.get(item["pool"], 0) + 1
    table = Table(
        _("pool"), _("capacity"), _("in use"), _("used"), _("reserved"), _("held by"), _("waiting")
    )
    for pool in data["pools"]:
        name = pool["name"]
        holders = ", ".join(f"{h['run_id']}/{h['task_id']}" for h in pool["holders"][:3])
        if len(pool["holders"]) > 3:
            holders += " …"
        table.add_row(
            name,
            _amount(name, pool["capacity"]),
            _amount(name, pool["in_use"]),
            _amount(name, pool.get("used")),  # measured by the usage sampler: cpu, memory
            _amount(name, pool.get("reserved")),
            holders,
            str(waiting_on.get(name, 0)),
        )
    out_console.print(table)
    for item in data["waiting"]:
        out_console.print(f"{item['run_id']}/{item['task_id']}: {item['reason']}")


def register(app: typer.Typer) -> None:
    """Add the `resources` command group."""
    group = typer.Typer(
        help=command_help("resources"),
        no_args_is_help=True,
        rich_markup_mode=None,
    )

    @group.command("status", help=_("Every pool and every task waiting for one."))
    def status_cmd(
        server: ServerOption = None, token: TokenOption = None, json_out: JsonOption = False
    ) -> None:
        if server is None:
            data = _local_status()
        else:
            with connected(server, token) as client:
                data = client.request("GET", "/api/v1/resources")
        _print_status(data, json_out)

    pool = typer.Typer(help=_("Change a pool."), no_args_is_help=True, rich_markup_mode=None)

    @pool.command(
        "set",
        help=_(
            "Set a pool's capacity (cores, a size such as 16Gi, slots); a new name adds a pool."
        ),
    )
    def set_cmd(
        name: Annotated[str, typer.Argument(help=_("pool name, e.g. gradle"))],
        capacity: Annotated[str, typer.Argument(help=_("new capacity"))],
        server: ServerOption = None,
        token: TokenOption = None,
        json_out: JsonOption = False,
    ) -> None:
        if server is None:
            result = _local_set(name, capacity)
        else:
            with connected(server, token) as client:
                body = {"capacity": _number(capacity)}
                result = client.request("PUT", f"/api/v1/resources/pools/{name}", json_body=body)
        if json_out:
            sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
            return
        shown_capacity = _amount(name, result["capacity"])
        out_console.print(_("pool {pool}: capacity {capacity}", pool=name, capacity=shown_capacity))

    group.add_typer(pool, name="pool")
    from basir.cli import resources_analysis_cmd

    resources_analysis_cmd.register(group)
    from basir.cli import resource_policies_cmd

    resource_policies_cmd.register(group)  # reserve, reservations, unreserve, quota
    app.add_typer(group, name="resources")
