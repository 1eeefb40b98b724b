"""`basir workflows apply|list|versions|show` on the embedded store."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from basir.cli.common import (
    err_console,
    fail,
    opened_store,
    out_console,
    report_spec_error,
    run_async,
    settings,
)
from basir.cli.help_page import command_help
from basir.i18n import _

if TYPE_CHECKING:
    from rich.table import Table

    from basir.store.records import WorkflowVersion


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _table(rows: list[WorkflowVersion]) -> Table:
    from rich.table import Table

    table = Table(_("name"), _("version"), _("namespace"), _("tasks"), _("created"))
    for row in rows:
        table.add_row(
            row.name,
            str(row.version),
            row.namespace,
            str(len(row.spec["tasks"])),
            _when(row.created_at),
        )
    return table


@run_async
async def _apply(files: list[Path]) -> None:
    from basir.cli.run_local import refuse_over_quota
    from basir.coordinator.workflows import apply_workflow
    from basir.engine.pool_config import configured_pools
    from basir.engine.queue_limits import configured_queues
    from basir.spec.errors import SpecError
    from basir.spec.validate import load_workflow_file

    config = settings()
    async with opened_store(config) as store:
        pools = await configured_pools(store, config.pools, config.home)
        queues = await configured_queues(store, config.queues)
        for path in files:
            try:
                spec = load_workflow_file(
                    path, template_dirs=config.template_dirs, pools=pools, queues=queues
                )
            except SpecError as error:
                report_spec_error(error, str(path))
            await refuse_over_quota(store, spec, config.template_dirs, str(path))
            version, created = await apply_workflow(store, spec, created_by="cli")
            message = (
                _("{name}: stored version {version}", name=version.name, version=version.version)
                if created
                else _(
                    "{name}: unchanged (version {version})",
                    name=version.name,
                    version=version.version,
                )
            )
            err_console.print(message)


@run_async
async def _list(json_out: bool) -> None:
    async with opened_store(settings()) as store:
        rows = await store.list_workflows()
    if json_out:
        sys.stdout.write(
            json.dumps(
                [{"name": r.name, "version": r.version, "namespace": r.namespace} for r in rows]
            )
            + "\n"
        )
    else:
        out_console.print(_table(rows))


@run_async
async def _versions(name: str, json_out: bool) -> None:
    async with opened_store(settings()) as store:
        rows = await store.list_workflow_versions(name)
    if not rows:
        fail(_("no workflow named {name}", name=name))
    if json_out:
        sys.stdout.write(
            json.dumps(
                [
                    {"version": r.version, "spec_hash": r.spec_hash, "created_at": r.created_at}
                    for r in rows
                ]
            )
            + "\n"
        )
    else:
        out_console.print(_table(rows))


@run_async
async def _show(name: str, version: int | None) -> None:
    async with opened_store(settings()) as store:
        row = await store.get_workflow(name, version)
    if row is None:
        fail(
            _("no workflow named {name}", name=name)
            if version is None
            else _("workflow {name} has no version {version}", name=name, version=version)
        )
    sys.stdout.write(
        json.dumps(
            {"name": row.name, "version": row.version, "spec": row.spec},
            indent=2,
            ensure_ascii=False,
        )
        + "\n"
    )


def register(app: typer.Typer) -> None:
    """Add the `workflows` command group."""
    group = typer.Typer(help=command_help("workflows"), no_args_is_help=True)

    @group.command("apply", help=_("Validate files and store each as a new version if changed."))
    def apply_cmd(files: Annotated[list[Path], typer.Argument(help=_("workflow files"))]) -> None:
        _apply(files)

    @group.command("list", help=_("List workflows with their latest version."))
    def list_cmd(
        json_out: Annotated[bool, typer.Option("--json", help=_("print JSON on stdout"))] = False,
    ) -> None:
        _list(json_out)

    @group.command("versions", help=_("List every version of a workflow."))
    def versions_cmd(
        name: Annotated[str, typer.Argument(help=_("workflow name"))],
        json_out: Annotated[bool, typer.Option("--json", help=_("print JSON on stdout"))] = False,
    ) -> None:
        _versions(name, json_out)

    @group.command("show", help=_("Print a workflow version's spec as JSON."))
    def show_cmd(
        name: Annotated[str, typer.Argument(help=_("workflow name"))],
        version: Annotated[
            int | None,
            typer.Option("--version", "-v", min=1, help=_("version number (default: the latest)")),
        ] = None,
    ) -> None:
        _show(name, version)

    app.add_typer(group, name="workflows")
