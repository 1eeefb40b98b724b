"""`basir logs search TEXT`: task log lines across runs of the embedded store."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer

from basir.cli.common import err_console, opened_store, out_console, run_async, settings
from basir.cli.help_page import command_help
from basir.i18n import _

if TYPE_CHECKING:
    from basir.monitoring.log_search import SearchResult

logs_app = typer.Typer(
    name="logs",
    help=command_help("logs"),
    no_args_is_help=True,
    rich_markup_mode=None,
)


@logs_app.command("search", help=_("Print log lines containing TEXT, newest runs first."))
def search(
    text: Annotated[str, typer.Argument(help=_("text to find (case-insensitive)"))],
    workflow: Annotated[str | None, typer.Option(help=_("only runs of this workflow"))] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help=_("start: ISO 8601, epoch seconds or a duration ago (7d)")),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help=_("how many"))] = 100,
    json_out: Annotated[bool, typer.Option("--json", help=_("print JSON on stdout"))] = False,
) -> None:
    """`basir logs search TEXT`."""
    found = _search(text, workflow, since, limit)
    if json_out:
        items = [asdict(m) for m in found.matches]
        sys.stdout.write(
            json.dumps({"items": items, "truncated": found.truncated}, ensure_ascii=False) + "\n"
        )
        return
    for match in found.matches:
        out_console.print(
            f"{match.run_id} {match.workflow} {match.task_id}:{match.line_no}: {match.line}",
            soft_wrap=True,
            markup=False,
        )
    if found.truncated:
        err_console.print(_("more matches: narrow the search or raise --limit"))


@run_async
async def _search(text: str, workflow: str | None, since: str | None, limit: int) -> SearchResult:
    import time

    from basir.monitoring.log_search import check_query, search_logs
    from basir.monitoring.report_source import parse_moment

    check_query(text)
    config = settings()
    start = parse_moment(since, "since", time.time()) or 0.0
    async with opened_store(config) as store:
        return await search_logs(
            store, config.logs_dir, text, since=start, workflow=workflow, limit=limit
        )


def register(app: typer.Typer) -> None:
    """Add the `logs` command group to the main app."""
    app.add_typer(logs_app, name="logs")
