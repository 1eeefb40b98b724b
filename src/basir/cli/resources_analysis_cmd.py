"""`basir resources analytics | recommendations | forecast [--window W]`.

Read from the metric history, as `GET /api/v1/resources/analytics|recommendations|forecast`
answer: with `--server URL` that server's, without it the embedded store's (the history a
`basir server` on this `BASIR_HOME` wrote; capacities as configured here).
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

WindowOption = Annotated[
    str | None, typer.Option("--window", help=_("how far back to look, e.g. 24h or 7d"))
]
ScaleOption = Annotated[
    float | None, typer.Option("--scale", help=_("a load multiplier, e.g. 2 for twice the load"))
]
DAY_S, WEEK_S = 86400.0, 7 * 86400.0


@run_async
async def _local(kind: str, window: str | None, scale: float | None) -> dict[str, Any]:
    from basir.engine.pool_config import configured_pools, shown
    from basir.monitoring import resource_report as report
    from basir.resources.capacity import pool_capacities

    seconds = report.parse_window(window, WEEK_S if kind == "forecast" else DAY_S)
    async with opened_store(settings()) as store:
        amounts = pool_capacities(await configured_pools(store, settings().pools, settings().home))
        capacities = {name: float(shown(name, amount)) for name, amount in amounts.items()}
        now = time.time()
        if kind == "analytics":
            return await report.analytics(store, capacities, seconds, now)
        if kind == "recommendations":
            return await report.advise(store, capacities, seconds, now)
        return await report.forecast(store, capacities, seconds, now, report.check_scale(scale))


def _fetch(
    kind: str, window: str | None, scale: float | None, server: str | None, token: str | None
) -> dict[str, Any]:
    if server is None:
        return _local(kind, window, scale)
    with connected(server, token) as client:
        params = {"window": window, "scale": scale if kind == "forecast" else None}
        data: dict[str, Any] = client.request("GET", f"/api/v1/resources/{kind}", params=params)
        return data


def _percent(value: float) -> str:
    return f"{value * 100:.0f}%"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds >= 86400:
        return _("{n} d", n=round(seconds / 86400, 1))
    if seconds >= 3600:
        return _("{n} h", n=round(seconds / 3600, 1))
    return _("{n} min", n=round(seconds / 60))


def _print(kind: str, data: dict[str, Any], json_out: bool) -> None:
    if json_out:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    from rich.table import Table

    if kind == "recommendations":
        for item in data["items"]:
            out_console.print(f"- {item['message']}")
        if not data["items"]:
            out_console.print(_("nothing to change"))
        return
    if kind == "analytics":
        table = Table(_("pool"), _("waited"), _("mean waiting"), _("use mean"), _("p95"), _("peak"))
        for pool in data["pools"]:
            table.add_row(
                pool["pool"],
                _duration(pool["waited_s"]),
                str(pool["mean_waiting"]),
                _percent(pool["utilisation_mean"]),
                _percent(pool["utilisation_p95"]),
                _percent(pool["utilisation_peak"]),
            )
        out_console.print(table)
        return
    headers = [_("pool"), _("capacity"), _("use now"), _("trend a day"), _("daily peak")]
    headers.append(_("saturates in"))
    scaled = [pool for pool in data["pools"] if "needed_capacity" in pool]
    if scaled:  # --scale N: what N times today's load needs
        headers.append(_("needed for ×{scale}", scale=f"{scaled[0]['scale']:g}"))
    table = Table(*headers)
    for pool in data["pools"]:
        row = [
            pool["pool"],
            _capacity(pool["pool"], pool["capacity"]),
            _percent(pool["utilisation_now"]),
            f"{pool['trend_per_day'] * 100:+.1f}%",
            f"+{pool['daily_peak_offset'] * 100:.0f}%",
            _duration(pool["saturates_in_s"]),
        ]
        if scaled:
            row.append(_capacity(pool["pool"], pool.get("needed_capacity")))
        table.add_row(*row)
    out_console.print(table)


def _capacity(pool: str, value: float | None) -> str:
    """A capacity as people write it: cores (`1.5`), a size (`12Gi`), whole slots (up)."""
    from basir.resources.fitting import CPU, show_amount

    if value is None:
        return "-"
    if pool == CPU:
        return f"{value:g}"
    return show_amount(pool, math.ceil(value))


def register(group: typer.Typer) -> None:
    """Add `analytics`, `recommendations` and `forecast` to the `resources` group."""

    @group.command("analytics", help=_("Which pools tasks waited for, and how full each was."))
    def analytics_cmd(
        window: WindowOption = None,
        server: ServerOption = None,
        token: TokenOption = None,
        json_out: JsonOption = False,
    ) -> None:
        _print("analytics", _fetch("analytics", window, None, server, token), json_out)

    @group.command("recommendations", help=_("What to change: pools to raise, requests to fix."))
    def recommendations_cmd(
        window: WindowOption = None,
        server: ServerOption = None,
        token: TokenOption = None,
        json_out: JsonOption = False,
    ) -> None:
        data = _fetch("recommendations", window, None, server, token)
        _print("recommendations", data, json_out)

    @group.command("forecast", help=_("When each pool saturates at the current trend."))
    def forecast_cmd(
        window: WindowOption = None,
        scale: ScaleOption = None,
        server: ServerOption = None,
        token: TokenOption = None,
        json_out: JsonOption = False,
    ) -> None:
        _print("forecast", _fetch("forecast", window, scale, server, token), json_out)
