"""`basir alerts list|ack|silence`: against a server (`--server URL` or `BASIR_SERVER`); `list`
without one reads the embedded store (alerts are stored: a server on the same `BASIR_HOME`
shows the same ones; pending alerts, which only a running server holds, are not there)."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from basir.cli.common import err_console, opened_store, out_console, run_async, settings
from basir.cli.help_page import command_help
from basir.cli.runs_cmd import JsonOption, ServerOption, TokenOption, connected, short_time
from basir.i18n import _

alerts_app = typer.Typer(
    name="alerts",
    help=command_help("alerts"),
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


@alerts_app.command("list", help=_("List alerts, most recently fired first."))
def list_alerts(
    server: ServerOption = None,
    token: TokenOption = None,
    state: Annotated[
        str | None, typer.Option(help=_("only alerts in this state: firing, pending or resolved"))
    ] = None,
    workflow: Annotated[str | None, typer.Option(help=_("only alerts of this workflow"))] = None,
    json_out: JsonOption = False,
) -> None:
    """`basir alerts list`."""
    if state not in (None, "firing", "pending", "resolved"):
        raise typer.BadParameter(_("firing, pending or resolved"), param_hint="--state")
    if server is None:
        found = _stored_alerts(state, workflow)
    else:
        with connected(server, token) as client:
            found = client.request(
                "GET", "/api/v1/alerts", params={"state": state, "workflow": workflow}
            )
    if json_out:
        _print_json(found)
        return
    from rich.table import Table

    table = Table(_("state"), _("fired"), _("message"), _("acknowledged"))
    table.add_column(_("alert"), no_wrap=True)
    states = {"firing": _("firing"), "pending": _("pending"), "resolved": _("resolved")}
    for alert in found["items"]:
        state_text = states.get(alert["state"], alert["state"])
        if alert.get("silenced_by"):
            state_text += " " + _("(silenced)")
        table.add_row(
            state_text,
            short_time(alert["fired_at"]),
            alert["message"],
            alert.get("acknowledged_by") or "",
            alert["id"],
        )
    out_console.print(table)


@run_async
async def _stored_alerts(state: str | None, workflow: str | None) -> dict[str, Any]:
    """The alerts of the embedded store, as `GET /api/v1/alerts` shows them."""
    from basir.monitoring.alert_views import alert_view

    if state == "pending":  # held by a running server only
        return {"items": []}
    async with opened_store(settings()) as store:
        found = await store.alert_list(state=state, workflow=workflow, limit=100)
    return {"items": [alert_view(alert) for alert in found]}


@alerts_app.command("ack", help=_("Acknowledge an alert: record that you have seen it."))
def ack(
    alert_id: Annotated[str, typer.Argument(help=_("alert id"))],
    server: ServerOption = None,
    token: TokenOption = None,
    json_out: JsonOption = False,
) -> None:
    """`basir alerts ack ALERT_ID`."""
    with connected(server, token) as client:
        alert = client.request("POST", f"/api/v1/alerts/{alert_id}/ack")
    if json_out:
        _print_json(alert)
    else:
        err_console.print(_("alert {alert_id} acknowledged", alert_id=alert["id"]))


@alerts_app.command("silence", help=_("Silence matching alerts for a while."))
def silence(
    why: Annotated[str, typer.Option("--why", help=_("why (recorded with who and when)"))],
    workflow: Annotated[str | None, typer.Option(help=_("alerts of this workflow"))] = None,
    rule: Annotated[
        str | None, typer.Option(help=_("alerts of this rule, e.g. run_failed"))
    ] = None,
    run: Annotated[str | None, typer.Option("--run", help=_("alerts about this run"))] = None,
    duration: Annotated[str, typer.Option("--for", help=_("how long: 30m, 2h, 1d"))] = "2h",
    server: ServerOption = None,
    token: TokenOption = None,
    json_out: JsonOption = False,
) -> None:
    """`basir alerts silence --workflow W --for 2h --why TEXT`."""
    matchers = {
        key: value
        for key, value in (("workflow", workflow), ("rule", rule), ("run_id", run))
        if value is not None
    }
    if not matchers:
        raise typer.BadParameter(_("give --workflow, --rule or --run"), param_hint="--workflow")
    with connected(server, token) as client:
        created = client.request(
            "POST",
            "/api/v1/alerts/silences",
            json_body={"matchers": matchers, "for": duration, "why": why},
        )
    if json_out:
        _print_json(created)
    else:
        err_console.print(
            _("silence {id} until {until}", id=created["id"], until=short_time(created["until"]))
        )


def register(app: typer.Typer) -> None:
    """Add the `alerts` command group to the main app."""
    app.add_typer(alerts_app, name="alerts")
