"""`basir queues list | set NAME LIMIT [--rate 10/s | --no-rate]`.

With `--server URL`, the live view of that server's engine (`GET /api/v1/queues`): every named
queue with its limit and rate, the tasks running in it, how many wait for it and the longest
of those waits.  Without it, the embedded store's configuration: `BASIR_QUEUES` with the limits
kept in the store on top; what runs and waits is known only to the process running the engine,
so those columns show `-`.  `set` keeps a limit in the store (kv `task_queue`): a server
applies it at once (through `--server`), any other engine on the store when it next starts.
A queue's rate is kept by `set` unless `--rate` replaces it or `--no-rate` clears it.
"""

from __future__ import annotations

import json
import re
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from basir.cli.common import EXIT_INVALID, fail, opened_store, out_console, run_async, settings
from basir.cli.help_page import command_help
from basir.cli.runs_cmd import JsonOption, ServerOption, TokenOption, connected
from basir.i18n import _

if TYPE_CHECKING:
    from basir.config import QueueLimit

RATE = re.compile(r"^\d+/[smh]$")
NO_CAP = "none"  # LIMIT for a queue with a rate and no cap on running tasks


def checked_name(name: str) -> str:
    """A queue name as `BASIR_QUEUES` allows it, else exit 2 naming it."""
    from basir.config import POOL_NAME

    if not POOL_NAME.match(name):
        fail(
            _(
                "{name} is not a queue name: lowercase letters, digits, '.', '_' and '-',"
                " at most 63",
                name=name,
            )
        )
    return name


def limit_text(slots: str, rate: str | None, current: str | None) -> str:
    """The limit as `BASIR_QUEUES` writes it (`2`, `2@10/s`, `@60/m`) from `set`'s arguments.

    `rate` None keeps the rate of `current` (the queue's limit now, None for a new queue);
    `""` clears it.  A malformed LIMIT or rate exits 2 with a message naming it.
    """
    slots = slots.strip().lower()
    if slots != NO_CAP and not slots.isdigit():
        fail(_("{value} is not a number of slots: give a whole number, or none", value=slots))
    if rate is None:
        rate = current.partition("@")[2] if current is not None else ""
    elif rate and not RATE.match(rate.strip()):
        fail(_("{value} is not a rate: give count/unit, e.g. 10/s (unit s, m or h)", value=rate))
    text = ("" if slots == NO_CAP else slots) + (f"@{rate.strip()}" if rate else "")
    if not text:
        fail(_("a queue needs a number of slots or a rate; give LIMIT or --rate"))
    return text


def _row(name: str, limit: QueueLimit) -> dict[str, Any]:
    from basir.config import describe_rate

    return {
        "name": name,
        "limit": limit.describe(),
        "slots": limit.slots,
        "rate": None if limit.rate is None else describe_rate(limit.rate, limit.per_s),
        "in_use": None,
        "holders": [],
        "waiting": None,
        "longest_wait_s": None,
    }


@run_async
async def _local_list() -> dict[str, Any]:
    from basir.engine.queue_limits import configured_queues

    async with opened_store(settings()) as store:
        queues = await configured_queues(store, settings().queues)
    rows = [_row(name, limit) for name, limit in sorted(queues.items())]
    return {"queues": rows, "keys": [], "waiting": [], "runs_waiting": []}


@run_async
async def _local_set(name: str, slots: str, rate: str | None) -> dict[str, Any]:
    from basir.engine.queue_limits import QUEUE_KIND, checked_limit, configured_queues

    async with opened_store(settings()) as store:
        current = (await configured_queues(store, settings().queues)).get(name)
        text = limit_text(slots, rate, current.describe() if current is not None else None)
        limit = checked_limit(name, text)
        await store.kv_put(QUEUE_KIND, name, {"limit": limit.describe()})
    return _row(name, limit)


def _remote_set(
    server: str, token: str | None, name: str, slots: str, rate: str | None
) -> dict[str, Any]:
    with connected(server, token) as client:
        current = None
        if rate is None:  # keep the queue's rate: read it first
            queues = client.request("GET", "/api/v1/queues")["queues"]
            current = next((q["limit"] for q in queues if q["name"] == name), None)
        body = {"limit": limit_text(slots, rate, current)}
        answer: dict[str, Any] = client.request("PUT", f"/api/v1/queues/{name}", json_body=body)
    return answer


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 60:
        return _("{n} s", n=round(value, 1))
    if value < 3600:
        return _("{n} min", n=round(value / 60, 1))
    return _("{n} h", n=round(value / 3600, 1))


def _shown(value: object) -> str:
    return "-" if value is None else str(value)


def _print(data: dict[str, Any], json_out: bool) -> None:
    if json_out:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    from rich.table import Table

    table = Table(_("queue"), _("limit"), _("rate"), _("running"), _("waiting"), _("longest wait"))
    for queue in data["queues"]:
        table.add_row(
            queue["name"],
            _shown(queue.get("slots")),
            _shown(queue.get("rate")),
            _shown(queue.get("in_use")),
            _shown(queue.get("waiting")),
            _seconds(queue.get("longest_wait_s")),
        )
    out_console.print(table)


def register(app: typer.Typer) -> None:
    """Add the `queues` command group."""
    group = typer.Typer(
        help=command_help("queues"),
        no_args_is_help=True,
        rich_markup_mode=None,
    )

    @group.command("list", help=_("Every queue: limit, rate, running, waiting, longest wait."))
    def list_cmd(
        server: ServerOption = None, token: TokenOption = None, json_out: JsonOption = False
    ) -> None:
        if server is None:
            data = _local_list()
        else:
            with connected(server, token) as client:
                data = client.request("GET", "/api/v1/queues")
        _print(data, json_out)

    @group.command("set", help=_("Set (or add) a queue's limit; kept across restarts."))
    def set_cmd(
        name: Annotated[str, typer.Argument(help=_("queue name, e.g. builds"))],
        slots: Annotated[str, typer.Argument(help=_("tasks running at once, or none for no cap"))],
        rate: Annotated[
            str | None, typer.Option("--rate", help=_("starts per time unit, e.g. 10/s or 60/m"))
        ] = None,
        no_rate: Annotated[
            bool, typer.Option("--no-rate", help=_("clear the queue's rate limit"))
        ] = False,
        server: ServerOption = None,
        token: TokenOption = None,
        json_out: JsonOption = False,
    ) -> None:
        if no_rate and rate is not None:
            fail(_("give --rate or --no-rate, not both"), EXIT_INVALID)
        wanted = "" if no_rate else rate
        checked_name(name)
        if server is None:
            result = _local_set(name, slots, wanted)
        else:
            result = _remote_set(server, token, name, slots, wanted)
        if json_out:
            sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
            return
        out_console.print(
            _("queue {queue}: limit {limit}", queue=name, limit=result["limit"] or "-")
        )

    app.add_typer(group, name="queues")
