"""`basir audit list|verify`: the audit log, from the embedded store or a server (--server)."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from basir.cli.common import EXIT_FAILED, err_console, opened_store, out_console, run_async
from basir.cli.common import settings as load_settings
from basir.cli.help_page import command_help
from basir.cli.runs_cmd import JsonOption, ServerOption, TokenOption, connected, short_time
from basir.i18n import _

audit_app = typer.Typer(
    name="audit",
    help=command_help("audit"),
    no_args_is_help=True,
    rich_markup_mode=None,
)

MAX_LIST = 500


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


@run_async
async def _local_list(
    actor: str | None, since: str | None, until: str | None, before: int | None, limit: int
) -> dict[str, Any]:
    import time

    from basir.api.views import audit_entry
    from basir.monitoring.report_source import parse_moment

    now = time.time()
    async with opened_store(load_settings()) as store:
        found = await store.audit_list(
            before_id=before,
            limit=limit,
            actor=actor,
            since=parse_moment(since, "since", now),
            until=parse_moment(until, "until", now),
        )
    following = found[-1].id if len(found) == limit and found[-1].id > 1 else None
    return {"items": [audit_entry(e) for e in found], "next": following}


@run_async
async def _local_verify() -> dict[str, Any]:
    from basir.security.audit import verify_log

    async with opened_store(load_settings()) as store:
        return await verify_log(store)


@audit_app.command("list", help=_("List audit entries, newest first."))
def list_entries(
    server: ServerOption = None,
    token: TokenOption = None,
    actor: Annotated[str | None, typer.Option(help=_("only entries of this user"))] = None,
    since: Annotated[
        str | None, typer.Option(help=_("start: ISO 8601, epoch seconds or a duration ago (7d)"))
    ] = None,
    until: Annotated[
        str | None, typer.Option(help=_("end: ISO 8601, epoch seconds or a duration ago"))
    ] = None,
    before: Annotated[
        int | None, typer.Option(min=1, help=_("only entries older than this id"))
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=MAX_LIST, help=_("how many"))] = 100,
    json_out: JsonOption = False,
) -> None:
    """`basir audit list`."""
    if server:
        params = {"actor": actor, "since": since, "until": until, "before": before, "limit": limit}
        with connected(server, token) as client:
            found = client.request("GET", "/api/v1/audit", params=params)
    else:
        found = _local_list(actor, since, until, before, limit)
    if json_out:
        _print_json(found)
        return
    from rich.table import Table

    table = Table(_("id"), _("time"), _("actor"), _("action"), _("target"), _("status"))
    for entry in found["items"]:
        table.add_row(
            str(entry["id"]),
            short_time(entry["time"]),
            entry["actor"] or _("(unknown)"),
            entry["action"],
            json.dumps(entry["target"], ensure_ascii=False),
            str(entry["status"]),
        )
    out_console.print(table)


@audit_app.command("verify", help=_("Check the audit log's hash chain; exit 1 if it is broken."))
def verify(
    server: ServerOption = None,
    token: TokenOption = None,
    json_out: JsonOption = False,
) -> None:
    """`basir audit verify`."""
    if server:
        with connected(server, token) as client:
            verdict = client.request("GET", "/api/v1/audit/verify")
    else:
        verdict = _local_verify()
    if json_out:
        _print_json(verdict)
    elif verdict["ok"]:
        out_console.print(_("audit log intact: {count} entries", count=verdict["entries"]))
    else:
        err_console.print(
            _(
                "audit log broken at entry {id}: it was changed, removed or reordered",
                id=verdict["first_broken_id"],
            )
        )
    if not verdict["ok"]:
        raise typer.Exit(EXIT_FAILED)


def register(app: typer.Typer) -> None:
    """Add the `audit` command group to the main app."""
    app.add_typer(audit_app, name="audit")
