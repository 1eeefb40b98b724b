"""`basir resources reserve | reservations | unreserve | quota set | quota list`.

With `--server URL` they go to that server (which applies them at once); without it they change
the embedded store, which an embedded `basir run` (and a server when it next starts) applies.
"""

from __future__ import annotations

import json
import math
import sys
import time
from typing import Annotated, Any

import typer

from basir.cli.common import opened_store, out_console, run_async, settings
from basir.cli.runs_cmd import JsonOption, ServerOption, TokenOption, connected
from basir.i18n import _

RESERVATIONS = "/api/v1/resources/reservations"


def _print(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


async def _capacity() -> dict[str, int]:
    from basir.engine.pool_config import configured_pools
    from basir.resources.capacity import pool_capacities

    async with opened_store(settings()) as store:
        return pool_capacities(await configured_pools(store, settings().pools, settings().home))


@run_async
async def _local_reserve(body: dict[str, Any]) -> dict[str, Any]:
    from basir.resources import policy_store
    from basir.resources.reservations import ReservationInput

    capacity = await _capacity()
    given = ReservationInput(
        pool=body["pool"],
        amount=body["amount"],
        namespace=body.get("namespace"),
        workflow=body.get("workflow"),
        start=body.get("from"),
        end=body.get("to"),
        cron=body.get("cron"),
        duration=body.get("duration"),
        timezone=body.get("timezone", "UTC"),
    )
    now = time.time()
    async with opened_store(settings()) as store:
        made = await policy_store.add_reservation(store, given, capacity, now=now, by=None)
    return policy_store.shown_reservation(made, now)


@run_async
async def _local_reservations() -> list[dict[str, Any]]:
    from basir.resources import policy_store

    now = time.time()
    async with opened_store(settings()) as store:
        found = await policy_store.reservations(store)
    return [policy_store.shown_reservation(reservation, now) for reservation in found]


@run_async
async def _local_unreserve(reservation_id: str) -> None:
    from basir.resources import policy_store

    async with opened_store(settings()) as store:
        await policy_store.delete_reservation(store, reservation_id)


@run_async
async def _local_quota_set(namespace: str, body: dict[str, Any]) -> dict[str, Any]:
    from basir.resources import policy_store
    from basir.resources.quotas import checked_quota

    quota = checked_quota(namespace, body)
    async with opened_store(settings()) as store:
        await policy_store.put_quota(store, quota)
    return quota.shown()


@run_async
async def _local_quotas() -> list[dict[str, Any]]:
    from basir.resources import policy_store

    async with opened_store(settings()) as store:
        return [quota.shown() for quota in await policy_store.quotas(store)]


def _amount(value: str) -> float | str:
    """A number as such; a size (4Gi) stays text, as do nan and inf (not JSON numbers), which
    the check of the amount refuses with its own message."""
    try:
        number = float(value)
    except ValueError:
        return value
    return number if math.isfinite(number) else value


def _reservation_line(item: dict[str, Any]) -> str:
    holder = (
        f"namespace {item['namespace']}" if "namespace" in item else f"workflow {item['workflow']}"
    )
    if "cron" in item:
        when = f"cron '{item['cron']}' {item['timezone']} for {item['duration_s']:g}s"
    else:
        when = f"{item['from']} → {item['to']}"
    state = (
        _("active until {until}", until=item["until"])
        if item["active"]
        else _("next {next}", next=item["next"] or "-")
    )
    return f"{item['id']}  {item['pool']} {item['amount']:g}  {holder}  {when}  ({state})"


def _register_reservations(group: typer.Typer) -> None:
    @group.command(
        "reserve",
        help=_("Reserve an amount of a pool for a namespace or a workflow, once or by cron."),
    )
    def reserve_cmd(
        pool: Annotated[str, typer.Argument(help=_("pool name, e.g. gradle"))],
        amount: Annotated[str, typer.Argument(help=_("cores for cpu, a size for memory, slots"))],
        namespace: Annotated[
            str | None, typer.Option("--namespace", help=_("holder: a namespace"))
        ] = None,
        workflow: Annotated[
            str | None, typer.Option("--workflow", help=_("holder: a workflow"))
        ] = None,
        start: Annotated[
            str | None, typer.Option("--from", help=_("once: start, ISO 8601 with offset"))
        ] = None,
        end: Annotated[
            str | None, typer.Option("--to", help=_("once: end, ISO 8601 with offset"))
        ] = None,
        cron: Annotated[
            str | None, typer.Option("--cron", help=_("recurring: when windows open"))
        ] = None,
        duration: Annotated[
            str | None, typer.Option("--duration", help=_("recurring: window length, e.g. 2h"))
        ] = None,
        timezone: Annotated[
            str, typer.Option("--timezone", help=_("IANA zone of the cron"))
        ] = "UTC",
        server: ServerOption = None,
        token: TokenOption = None,
        json_out: JsonOption = False,
    ) -> None:
        body: dict[str, Any] = {"pool": pool, "amount": _amount(amount), "timezone": timezone}
        for key, value in (("namespace", namespace), ("workflow", workflow), ("from", start),
                           ("to", end), ("cron", cron), ("duration", duration)):  # fmt: skip
            if value is not None:
                body[key] = value
        if server is None:
            made = _local_reserve(body)
        else:
            with connected(server, token) as client:
                made = client.request("POST", RESERVATIONS, json_body=body)
        if json_out:
            _print(made)
            return
        out_console.print(_("reserved: {line}", line=_reservation_line(made)))

    @group.command("reservations", help=_("Every reservation, and whether it holds now."))
    def reservations_cmd(
        server: ServerOption = None, token: TokenOption = None, json_out: JsonOption = False
    ) -> None:
        if server is None:
            found = _local_reservations()
        else:
            with connected(server, token) as client:
                found = client.request("GET", RESERVATIONS)
        if json_out:
            _print(found)
            return
        for item in found:
            out_console.print(_reservation_line(item))

    @group.command("unreserve", help=_("Delete a reservation by its id."))
    def unreserve_cmd(
        reservation_id: Annotated[
            str, typer.Argument(help=_("reservation id, e.g. rsv-0123456789ab"))
        ],
        server: ServerOption = None,
        token: TokenOption = None,
    ) -> None:
        if server is None:
            _local_unreserve(reservation_id)
        else:
            with connected(server, token) as client:
                client.request("DELETE", f"{RESERVATIONS}/{reservation_id}")
        out_console.print(_("reservation {id} deleted", id=reservation_id))


def _register_quotas(group: typer.Typer) -> None:
    quota = typer.Typer(
        help=_("Namespace quotas and fair-share weights."),
        no_args_is_help=True,
        rich_markup_mode=None,
    )

    @quota.command(
        "set", help=_("Set a namespace's quota (replaces it; unset limits are unlimited).")
    )
    def set_cmd(
        namespace: Annotated[str, typer.Argument(help=_("namespace, e.g. mobile"))],
        tasks: Annotated[int | None, typer.Option("--tasks", help=_("concurrent tasks"))] = None,
        cpu: Annotated[
            float | None, typer.Option("--cpu", help=_("cores its tasks may hold"))
        ] = None,
        memory: Annotated[
            str | None, typer.Option("--memory", help=_("memory its tasks may hold, e.g. 8Gi"))
        ] = None,
        runs: Annotated[int | None, typer.Option("--runs", help=_("active runs"))] = None,
        runs_per_hour: Annotated[
            int | None, typer.Option("--runs-per-hour", help=_("runs started per hour"))
        ] = None,
        policy: Annotated[
            str, typer.Option("--policy", help=_("over quota: queue or refuse"))
        ] = "queue",
        weight: Annotated[int, typer.Option("--weight", help=_("fair-share weight"))] = 1,
        server: ServerOption = None,
        token: TokenOption = None,
        json_out: JsonOption = False,
    ) -> None:
        body: dict[str, Any] = {"policy": policy, "weight": weight}
        shown_cpu = None if cpu is None else cpu if math.isfinite(cpu) else str(cpu)  # not JSON
        for key, value in (("tasks", tasks), ("cpu", shown_cpu), ("memory", memory), ("runs", runs),
                           ("runs_per_hour", runs_per_hour)):  # fmt: skip
            if value is not None:
                body[key] = value
        if server is None:
            result = _local_quota_set(namespace, body)
        else:
            with connected(server, token) as client:
                result = client.request(
                    "PUT", f"/api/v1/resources/quotas/{namespace}", json_body=body
                )
        if json_out:
            _print(result)
            return
        out_console.print(_("quota of namespace {ns} set", ns=namespace))

    @quota.command("list", help=_("Every namespace quota."))
    def list_cmd(
        server: ServerOption = None, token: TokenOption = None, json_out: JsonOption = False
    ) -> None:
        if server is None:
            found = _local_quotas()
        else:
            with connected(server, token) as client:
                found = client.request("GET", "/api/v1/resources/quotas")
        if json_out:
            _print(found)
            return
        from rich.table import Table

        names = ("tasks", "cpu", "memory", "runs", "runs_per_hour", "policy", "weight")
        headers = (_("tasks"), "cpu", _("memory"), _("runs"), _("runs per hour"), _("policy"))
        table = Table(_("namespace"), *headers, _("weight"))
        for item in found:
            table.add_row(item["namespace"], *(_quota_cell(n, item[n]) for n in names))
        out_console.print(table)

    group.add_typer(quota, name="quota")


def _quota_cell(name: str, value: object) -> str:
    """A quota's limit as people write it: `0.5` cores, `100Mi`; `-` for none."""
    if value is None:
        return "-"
    if name in ("cpu", "memory") and isinstance(value, int | float):
        from basir.resources.fitting import show_amount, to_amount

        return show_amount(name, to_amount(name, value))
    return str(value)


def register(group: typer.Typer) -> None:
    """Add reservation and quota commands to the `resources` group."""
    _register_reservations(group)
    _register_quotas(group)
