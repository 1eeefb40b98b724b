"""`basir schedules list | next NAME [-n N] | pause NAME | resume NAME | backfill NAME | stats`.

On the embedded store (BASIR_HOME) by default; every subcommand also against a server with
`--server URL`.  NAME is a workflow name (all its schedules) or a schedule id
(`<workflow>:<position>`) from `list`.  A pause is stored: a server running on the same store,
or started later, does not fire the schedule until it is resumed.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from basir.cli.common import opened_store, out_console, run_async, settings
from basir.cli.help_page import command_help
from basir.cli.runs_cmd import JsonOption, ServerOption, TokenOption, connected
from basir.i18n import _

NameArgument = Annotated[str, typer.Argument(help=_("workflow name or schedule id"))]


def _print(items: list[dict[str, Any]], json_out: bool) -> None:
    if json_out:
        sys.stdout.write(json.dumps({"items": items}, ensure_ascii=False, indent=2) + "\n")
        return
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, padding=0, pad_edge=False)  # the box puts a space between
    for title in (_("id"), _("workflow"), _("cron"), _("time zone"), _("paused")):
        table.add_column(title, overflow="fold")
    # Times are never cut short: the other columns fold onto more lines first.
    table.add_column(_("last fire"), overflow="fold")
    table.add_column(_("next fire"), no_wrap=True)
    for item in items:
        table.add_row(
            item["id"],
            item["workflow"],
            item["cron"] or _("once"),
            item["timezone"],
            _("yes") if item["paused"] else _("no"),
            item["last_fire"] or "",
            item["next_fire"] or "",
        )
    out_console.print(table)


@run_async
async def _local_list() -> list[dict[str, Any]]:
    from basir.coordinator.schedule_controls import schedule_view

    async with opened_store(settings()) as store:
        return [schedule_view(r) for r in await store.list_schedules()]


@run_async
async def _local_pause(name: str, paused: bool) -> list[dict[str, Any]]:
    from basir.coordinator.schedule_controls import schedule_view, set_paused

    async with opened_store(settings()) as store:
        return [schedule_view(r) for r in await set_paused(store, name, paused, "cli")]


@run_async
async def _local_next(name: str, count: int) -> list[dict[str, Any]]:
    from basir.coordinator.schedule_controls import next_fires_view

    async with opened_store(settings()) as store:
        return await next_fires_view(store, name, count)


@run_async
async def _local_backfill(name: str, start: str, end: str, max_active: int) -> list[dict[str, Any]]:
    from basir.coordinator.backfill import request_backfill

    async with opened_store(settings()) as store:
        return await request_backfill(store, name, start, end, max_active, "cli")


def _backfill(
    name: str,
    window: tuple[str, str, int],
    server: str | None,
    token: str | None,
    json_out: bool,
) -> None:
    start, end, max_active = window
    if server is None:
        items = _local_backfill(name, start, end, max_active)
    else:
        body = {"from": start, "to": end, "max_active": max_active}
        with connected(server, token) as client:
            path = f"/api/v1/schedules/{name}/backfill"
            items = client.request("POST", path, json_body=body)["items"]
    if json_out:
        sys.stdout.write(json.dumps({"items": items}, ensure_ascii=False, indent=2) + "\n")
        return
    for item in items:
        out_console.print(
            _("{schedule}: {count} fires to backfill (a server runs them)",
              schedule=item["schedule"], count=item["fires"])
        )  # fmt: skip


@run_async
async def _local_stats(window: str) -> dict[str, Any]:
    from basir.coordinator.analytics import scheduler_analytics
    from basir.scheduler.analytics import parse_window

    seconds = parse_window(window)
    async with opened_store(settings()) as store:
        return await scheduler_analytics(store, seconds)


def _seconds(value: float | None) -> str:
    """A wait in few characters: `12ms`, `2.5s`, `540s` (the JSON keeps the exact figure)."""
    if value is None:
        return ""
    if value < 1:
        return f"{value * 1000:.0f}ms"
    return f"{value:.1f}s" if value < 60 else f"{value:.0f}s"


def _stats_table(heading: str, groups: dict[str, dict[str, Any]]) -> Any:
    """One row per priority class or per queue, every figure of the analytics."""
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, padding=0, pad_edge=False)  # the box puts a space between
    table.add_column(heading, no_wrap=True)
    for title in (
        _("tasks"), _("p50"), _("p95"), _("p99"), _("longest"), _("/min"), _("throttled"),
        _("preempted"), _("on time"),
    ):  # fmt: skip
        table.add_column(title, justify="right", no_wrap=True)
    for name, group in groups.items():
        waits = [group[k] for k in ("wait_p50_s", "wait_p95_s", "wait_p99_s", "longest_wait_s")]
        rate = group["deadline_hit_rate"]
        table.add_row(
            name,
            str(group["tasks"]),
            *(_seconds(v) for v in waits),
            f"{group['throughput_per_min']:g}",
            _seconds(group["throttled_s"]),
            str(group["preemptions"]),
            "" if rate is None else f"{rate:.0%}",
        )
    return table


def _stats(window: str, server: str | None, token: str | None, json_out: bool) -> None:
    if server is None:
        data = _local_stats(window)
    else:
        with connected(server, token) as client:
            data = client.request("GET", "/api/v1/scheduler/analytics", params={"window": window})
    if json_out:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    for heading, groups in ((_("class"), data["classes"]), (_("queue"), data["queues"])):
        out_console.print(_stats_table(heading, groups))
    rate = data["deadlines"]["hit_rate"]
    shown = "-" if rate is None else f"{rate:.0%}"
    out_console.print(
        _("deadlines met: {rate} of {count} runs", rate=shown, count=data["deadlines"]["runs"])
    )


def _pause(name: str, paused: bool, server: str | None, token: str | None, as_json: bool) -> None:
    if server is None:
        items = _local_pause(name, paused)
    else:
        action = "pause" if paused else "resume"
        with connected(server, token) as client:
            items = client.request("POST", f"/api/v1/schedules/{name}/{action}")["items"]
    _print(items, as_json)


def register(app: typer.Typer) -> None:
    """Add the `schedules` command group."""
    group = typer.Typer(
        help=command_help("schedules"),
        no_args_is_help=True,
        rich_markup_mode=None,
    )

    @group.command("list", help=_("One row per schedule, times in its own time zone."))
    def list_cmd(
        server: ServerOption = None, token: TokenOption = None, json_out: JsonOption = False
    ) -> None:
        if server is None:
            items = _local_list()
        else:
            with connected(server, token) as client:
                items = client.request("GET", "/api/v1/schedules")["items"]
        _print(items, json_out)

    @group.command("next", help=_("The next fire times of a schedule, in its time zone."))
    def next_cmd(
        name: NameArgument,
        count: Annotated[int, typer.Option("-n", min=1, max=1000, help=_("how many"))] = 5,
        server: ServerOption = None,
        token: TokenOption = None,
        json_out: JsonOption = False,
    ) -> None:
        if server is None:
            found = _local_next(name, count)
        else:
            with connected(server, token) as client:
                path = f"/api/v1/schedules/{name}/next"
                found = client.request("GET", path, params={"n": count})["items"]
        if json_out:
            sys.stdout.write(json.dumps({"items": found}, ensure_ascii=False, indent=2) + "\n")
            return
        for item in found:
            out_console.print(f"[bold]{item['id']}[/]")
            for moment in item["next"]:
                out_console.print(f"  {moment}")

    @group.command("pause", help=_("Pause schedules: no server fires them until resumed."))
    def pause_cmd(
        name: NameArgument,
        server: ServerOption = None,
        token: TokenOption = None,
        json_out: JsonOption = False,
    ) -> None:
        _pause(name, True, server, token, json_out)

    @group.command("resume", help=_("Resume schedules; missed fires follow their catchup."))
    def resume_cmd(
        name: NameArgument,
        server: ServerOption = None,
        token: TokenOption = None,
        json_out: JsonOption = False,
    ) -> None:
        _pause(name, False, server, token, json_out)

    @group.command("backfill", help=_("Run the fires of a past window, N runs at a time."))
    def backfill_cmd(
        name: NameArgument,
        start: Annotated[str, typer.Option("--from", help=_("ISO 8601 start, e.g. 2026-01-01"))],
        end: Annotated[str, typer.Option("--to", help=_("ISO 8601 end, in the past"))],
        max_active: Annotated[
            int, typer.Option("--max-active", min=1, max=100, help=_("runs active at once"))
        ] = 1,
        server: ServerOption = None,
        token: TokenOption = None,
        json_out: JsonOption = False,
    ) -> None:
        _backfill(name, (start, end, max_active), server, token, json_out)

    @group.command("stats", help=_("Queue waits, throughput, starvation, deadline hit rate."))
    def stats_cmd(
        window: Annotated[str, typer.Option(help=_("how far back, e.g. 15m, 1h, 1d"))] = "1h",
        server: ServerOption = None,
        token: TokenOption = None,
        json_out: JsonOption = False,
    ) -> None:
        _stats(window, server, token, json_out)

    app.add_typer(group, name="schedules")
