"""Time-based scheduling on a real `basir server`, over HTTP: what the issue's bars ask.

`overlap: skip` never runs two runs of a schedule at once and says why each fire did not run;
a `run_at` one-off fires once at its time; a backfill through REST keeps to its own
`max_active` and reports each run's logical time in the schedule's zone; a run request's
`deadline` gives `deadline.at_risk` (from earlier runs' durations) and `deadline.missed`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from api_e2e import ADMIN_TOKEN

SKIPPING = """\
name: skipping
on:
  schedule: [{cron: "* * * * * *", timezone: Asia/Riyadh}]
tasks:
  - {id: s, uses: sleep, with: {seconds: 2.2}}
"""
HOURLY = """\
name: hourly
on:
  schedule: [{cron: "0 * * * *", timezone: Asia/Riyadh, overlap: allow}]
tasks:
  - {id: s, uses: sleep, with: {seconds: 1}}
"""
SLOW = """\
name: slow
tasks:
  - {id: s, uses: sleep, with: {seconds: 1.5}}
"""


def until(check: Any, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def apply(client: httpx.Client, text: str) -> None:
    done = client.post("/api/v1/workflows", content=text,
                       headers={"Content-Type": "application/yaml"})  # fmt: skip
    assert done.status_code in (200, 201), done.text


def runs(client: httpx.Client, workflow: str) -> list[dict[str, Any]]:
    found = client.get("/api/v1/runs", params={"workflow": workflow, "limit": 200})
    items: list[dict[str, Any]] = found.json()["items"]
    return items


def events(client: httpx.Client, kind: str, **filters: str) -> list[dict[str, Any]]:
    params = {"type": kind, "limit": 1000, **filters}
    items: list[dict[str, Any]] = client.get("/api/v1/events/history", params=params).json()[
        "items"
    ]
    return items


def overlapping(items: list[dict[str, Any]]) -> int:
    """The most runs that were running at one moment."""
    moments = []
    for run in items:
        if run["started_at"]:
            moments.append((run["started_at"], 1))
            moments.append((run["finished_at"] or "9999", -1))
    most = active = 0
    for _moment, step in sorted(moments, key=lambda m: (m[0], m[1])):
        active += step
        most = max(most, active)
    return most


def test_overlap_skip_never_runs_two_at_once_and_says_why(server_factory: Any) -> None:
    server = server_factory().start()
    with server.client(ADMIN_TOKEN) as client:
        apply(client, SKIPPING)
        until(lambda: sum(r["status"] == "succeeded" for r in runs(client, "skipping")) >= 2)
        paused = client.post("/api/v1/schedules/skipping/pause")
        assert paused.status_code == 200 and paused.json()["items"][0]["paused"] is True
        until(lambda: all(r["status"] == "succeeded" for r in runs(client, "skipping")))
        items = runs(client, "skipping")
        assert overlapping(items) == 1, items
        skipped = events(client, "schedule.skipped", workflow="skipping")
        reasons = {e["data"]["reason"] for e in skipped}
        assert "overlap" in reasons, skipped
        # Each skipped fire names its schedule and its logical time in the schedule's zone.
        first = next(e for e in skipped if e["data"]["reason"] == "overlap")
        assert first["data"]["schedule"] == "skipping:0"
        assert first["data"]["at"].endswith("+03:00")
        fired = events(client, "schedule.fired", workflow="skipping")
        assert {e["data"]["run_id"] for e in fired} == {r["run_id"] for r in items}
    assert server.terminate() == 0


def test_run_at_backfill_and_deadlines(server_factory: Any) -> None:
    server = server_factory().start()
    with server.client(ADMIN_TOKEN) as client:
        # A one-off delayed run: listed as a schedule until it fires once, at its time.
        apply(client, SLOW)
        at = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0)
        asked = client.post("/api/v1/workflows/slow/runs", json={"run_at": at.isoformat()})
        assert asked.status_code == 202, asked.text
        one_off = asked.json()
        assert one_off["cron"] is None and one_off["next_fire"] == at.isoformat()
        until(lambda: len(runs(client, "slow")) == 1)
        [delayed] = runs(client, "slow")
        assert datetime.fromisoformat(delayed["created_at"]) >= at
        assert delayed["logical_time"] == at.isoformat()  # the time it was asked for
        # A one-off is paused and resumed by the id `list` shows, over REST and the CLI.
        later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        far = client.post("/api/v1/workflows/slow/runs", json={"run_at": later}).json()["id"]
        assert far.startswith("slow:at:")
        held = server.cli("schedules", "pause", far, "--json")
        assert held.returncode == 0, held.stderr
        assert '"paused": true' in held.stdout
        freed = client.post(f"/api/v1/schedules/{far}/resume")
        assert freed.status_code == 200, freed.text
        assert freed.json()["items"][0]["paused"] is False
        upcoming = client.get(f"/api/v1/schedules/{far}/next").json()["items"]
        assert upcoming[0]["next"] == [later]
        bad = client.post("/api/v1/workflows/slow/runs", json={"run_at": "yesterday"})
        assert (bad.status_code, bad.json()["code"]) == (422, "request.invalid")
        assert "ISO 8601" in bad.json()["errors"][0]["message"]

        # deadline.at_risk needs earlier durations: the first run's (1.5 s) says 1 s is short.
        until(lambda: runs(client, "slow")[0]["status"] == "succeeded")
        started = client.post("/api/v1/workflows/slow/runs", json={"deadline": "1s"})
        assert started.status_code == 201, started.text
        run_id = started.json()["run_id"]
        until(lambda: len(events(client, "deadline.missed", run=run_id)) == 1)
        [risk] = events(client, "deadline.at_risk", run=run_id)
        assert risk["data"]["estimate_s"] > risk["data"]["left_s"]

        # A backfill through REST: 4 past hourly fires, at most 2 at once, each in +03:00.
        apply(client, HOURLY)
        body = {"from": "2026-01-01T00:00:00+03:00", "to": "2026-01-01T03:00:00+03:00",
                "max_active": 2}  # fmt: skip
        requested = client.post("/api/v1/schedules/hourly/backfill", json=body)
        assert requested.status_code == 202, requested.text
        assert requested.json()["items"][0]["fires"] == 4
        until(
            lambda: [r["status"] for r in runs(client, "hourly")] == ["succeeded"] * 4,
            timeout_s=60,
        )
        items = runs(client, "hourly")
        assert {r["trigger"] for r in items} == {"backfill"}
        assert overlapping(items) == 2, items
        done = events(client, "schedule.backfilled", workflow="hourly")
        assert sorted(e["data"]["at"] for e in done) == [
            f"2026-01-01T0{h}:00:00+03:00" for h in range(4)
        ]
        # Each run knows the period it is for, in the list and in its own view.
        assert sorted(r["logical_time"] for r in items) == sorted(e["data"]["at"] for e in done)
        one = client.get(f"/api/v1/runs/{items[0]['run_id']}").json()
        assert one["logical_time"] == items[0]["logical_time"]
        none_at_once = client.post(
            "/api/v1/schedules/hourly/backfill", json={**body, "max_active": 0}
        )
        assert (none_at_once.status_code, none_at_once.json()["code"]) == (422, "request.invalid")
    assert server.terminate() == 0
