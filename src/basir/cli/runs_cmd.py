"""`basir runs list|show|pause|resume|cancel|retry|logs` against a server (`--server URL`)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from basir.cli.common import EXIT_FAILED, EXIT_INVALID, err_console, out_console
from basir.cli.help_page import command_help
from basir.i18n import _

if TYPE_CHECKING:
    from basir.cli.client import ApiClient, ApiError

runs_app = typer.Typer(
    name="runs",
    help=command_help("runs"),
    no_args_is_help=True,
    rich_markup_mode=None,
)

ServerOption = Annotated[
    str | None,
    typer.Option("--server", envvar="BASIR_SERVER", help=_("server URL, e.g. http://host:8765")),
]
TokenOption = Annotated[
    str | None, typer.Option("--token", envvar="BASIR_TOKEN", help=_("bearer token"))
]
JsonOption = Annotated[bool, typer.Option("--json", help=_("print JSON on stdout"))]
RunArgument = Annotated[str, typer.Argument(help=_("run id"))]


def default_server() -> str:
    """`http://HOST:PORT` of the local server's settings (BASIR_HOST, BASIR_PORT)."""
    from basir.cli.common import settings

    config = settings()
    return f"http://{config.host}:{config.port}"


def api_fail(error: ApiError) -> NoReturn:
    """Print a server's problem (detail and field errors) and exit: 2 for a 4xx, else 1."""
    err_console.print(f"[bold red]{_('error')}:[/] {error.detail}", soft_wrap=True)
    for item in error.errors:
        err_console.print(f"  {item.get('field', '')}: {item.get('message', '')}", soft_wrap=True)
    raise typer.Exit(EXIT_INVALID if 400 <= error.status < 500 else EXIT_FAILED)


@contextmanager
def connected(server: str | None, token: str | None) -> Iterator[ApiClient]:
    """A client for the chosen server; API errors become a message and an exit code."""
    from basir.cli.client import ApiClient, ApiError

    client = ApiClient(server or default_server(), token)
    try:
        yield client
    except ApiError as error:
        api_fail(error)
    finally:
        client.close()


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def short_time(value: object) -> str:
    """`2026-01-02T03:04:05.678Z` → `2026-01-02 03:04:05` (empty for none)."""
    return str(value)[:19].replace("T", " ") if value else ""


def print_run(run: dict[str, Any]) -> None:
    """A run's header line and a table of its tasks."""
    out_console.print(
        f"[bold]{run['run_id']}[/]  {run['workflow']} v{run['version']}  "
        f"{_('status')}: [bold]{_(str(run['status']))}[/]"
    )
    if run.get("error"):
        out_console.print(f"  {run['error']}", soft_wrap=True, markup=False)
    from rich.table import Table

    table = Table(_("task"), _("status"), _("attempts"), _("started"), _("finished"), _("use"))
    tasks = run.get("tasks", {})
    for task_id, task in tasks.items():
        table.add_row(
            task_id,
            _(str(task.get("status"))),
            str(task.get("attempts", 0)),
            short_time(task.get("started_at")),
            short_time(task.get("finished_at")),
            task_use(task.get("usage")),
        )
    out_console.print(table)
    for task_id, task in tasks.items():  # why a queued task has not started (the server's words)
        if task.get("waiting"):
            out_console.print(f"{task_id}: {task['waiting']}", soft_wrap=True, markup=False)
    for task_id, task in tasks.items():  # why a task failed, in the language asked for
        if task.get("error") and task.get("status") in {"failed", "retrying"}:
            out_console.print(f"{task_id}: {task['error']}", soft_wrap=True, markup=False)


def task_use(usage: object) -> str:
    """What a task's processes use (`0.5 cpu, 120Mi` while it runs) or used at their peak
    (`peak 1.2 cpu, 300Mi` once it ended); empty before the first sample."""
    if not isinstance(usage, dict):
        return ""
    from basir.resources.fitting import MEMORY, show_amount

    if "memory_bytes" in usage:
        cores, memory, prefix = usage.get("cpu_cores", 0), usage["memory_bytes"], ""
    elif "peak_memory_bytes" in usage:
        cores, memory = usage.get("peak_cpu_cores", 0), usage["peak_memory_bytes"]
        prefix = _("peak") + " "
    else:
        return ""
    return f"{prefix}{cores:g} cpu, {show_amount(MEMORY, int(memory))}"


@runs_app.command("list", help=_("List runs, newest first."))
def list_runs(
    server: ServerOption = None,
    token: TokenOption = None,
    status: Annotated[str | None, typer.Option(help=_("only runs in this state"))] = None,
    workflow: Annotated[str | None, typer.Option(help=_("only runs of this workflow"))] = None,
    limit: Annotated[int, typer.Option(min=1, max=200, help=_("how many"))] = 50,
    cursor: Annotated[str | None, typer.Option(help=_("continue after a previous page"))] = None,
    json_out: JsonOption = False,
) -> None:
    """`basir runs list`."""
    with connected(server, token) as client:
        page = client.list_runs(status=status, workflow=workflow, limit=limit, cursor=cursor)
    if json_out:
        _print_json(page)
        return
    from rich.table import Table

    table = Table(_("workflow"), _("version"), _("status"), _("created"))
    table.add_column(_("run"), no_wrap=True)
    for run in page["items"]:
        table.add_row(
            run["workflow"],
            str(run["version"]),
            _(run["status"]),
            short_time(run.get("created_at")),
            run["run_id"],
        )
    out_console.print(table)
    if page.get("next"):
        err_console.print(_("more: --cursor {cursor}", cursor=page["next"]))


@runs_app.command("show", help=_("Show a run and its tasks."))
def show(
    run_id: RunArgument,
    server: ServerOption = None,
    token: TokenOption = None,
    json_out: JsonOption = False,
) -> None:
    """`basir runs show RUN_ID`."""
    with connected(server, token) as client:
        run = client.get_run(run_id)
    if json_out:
        _print_json(run)
    else:
        print_run(run)


def _control(action: str, help_text: str) -> Callable[..., None]:
    def command(
        run_id: RunArgument,
        server: ServerOption = None,
        token: TokenOption = None,
        json_out: JsonOption = False,
    ) -> None:
        with connected(server, token) as client:
            run = client.control(run_id, action)
        if json_out:
            _print_json(run)
        else:
            err_console.print(
                _("run {run_id} is now {status}", run_id=run["run_id"], status=_(run["status"]))
            )

    command.__doc__ = help_text
    runs_app.command(action, help=help_text)(command)
    return command


pause = _control("pause", _("Pause a run: no new task starts; running ones finish."))
resume = _control("resume", _("Resume a paused run."))
cancel = _control("cancel", _("Cancel a run; its running tasks are stopped."))
retry = _control("retry", _("Re-run the failed and cancelled tasks of a finished run."))


@runs_app.command("logs", help=_("Print a task's log; --follow keeps printing until it ends."))
def logs(
    run_id: RunArgument,
    task_id: Annotated[str, typer.Argument(help=_("task id"))],
    server: ServerOption = None,
    token: TokenOption = None,
    tail: Annotated[int | None, typer.Option(min=0, help=_("only the last N lines"))] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help=_("keep following"))] = False,
) -> None:
    """`basir runs logs RUN_ID TASK_ID`."""
    with connected(server, token) as client:
        for chunk in client.stream_logs(run_id, task_id, tail=tail, follow=follow):
            sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()


def register(app: typer.Typer) -> None:
    """Add the `runs` command group to the main app."""
    app.add_typer(runs_app, name="runs")
