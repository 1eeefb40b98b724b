"""`basir report`: the performance report of the embedded store (so `basir run` runs count)."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import Annotated

import typer

from basir.cli.common import opened_store, run_async, settings
from basir.cli.help_page import command_help
from basir.i18n import _


class ReportFormat(StrEnum):
    """What `basir report --format` writes."""

    TEXT = "text"
    JSON = "json"
    CSV = "csv"
    HTML = "html"


def register(app: typer.Typer) -> None:
    """Add `basir report` to the application."""

    @app.command(
        "report",
        help=command_help("report"),
    )
    def report(
        since: Annotated[
            str | None,
            typer.Option(
                "--since", help=_("start: ISO 8601, epoch seconds or a duration ago (7d)")
            ),
        ] = None,
        until: Annotated[
            str | None,
            typer.Option("--until", help=_("end: ISO 8601, epoch seconds or a duration ago")),
        ] = None,
        format_: Annotated[
            ReportFormat, typer.Option("--format", help=_("text, json, csv or html"))
        ] = ReportFormat.TEXT,
    ) -> None:
        sys.stdout.write(_report(since, until, format_))


@run_async
async def _report(since: str | None, until: str | None, format_: ReportFormat) -> str:
    from basir.monitoring import report_render
    from basir.monitoring.report_source import performance_report, window

    start, end = window(since, until)
    async with opened_store(settings()) as store:
        built = await performance_report(store, start, end)
    if format_ == ReportFormat.JSON:
        return json.dumps(report_render.to_json(built), ensure_ascii=False, indent=2) + "\n"
    if format_ == ReportFormat.CSV:
        return report_render.to_csv(built)
    if format_ == ReportFormat.HTML:
        return report_render.to_html(built)
    return report_render.to_text(built)
