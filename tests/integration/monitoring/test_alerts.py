"""The built-in "run failed" alert on a real engine and SQLite: fires once per final failure."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from monitoring_helpers import Served

from basir.api.app import context_of
from basir.monitoring.alert_manager import AlertManager
from basir.monitoring.alert_rules import WATCHED_EVENTS
from basir.monitoring.health_overview import Facts
from basir.monitoring.health_probe import gather

# Exits with the code given as a parameter: one workflow that fails or succeeds on demand.
TOGGLE_YAML = """\
name: toggle
params:
  code: {type: string, default: "0"}
tasks:
  - id: work
    run: "exit ${{ params.code }}"
"""
# Fails on its first attempt only: a retry that succeeds must never alert.
FLAKY_YAML = """\
name: flaky
tasks:
  - id: once
    run: "if [ -f tried ]; then exit 0; fi; touch tried; exit 1"
    retries: {max: 2, delay: 10ms}
"""


async def alert_events(served: Served) -> list[dict[str, object]]:
    """Every `alert.*` event in the log, oldest first."""
    response = await served.client.get("/api/v1/events/history", params={"type": "alert.firing"})
    firing = response.json()["items"]
    response = await served.client.get("/api/v1/events/history", params={"type": "alert.resolved"})
    return sorted([*firing, *response.json()["items"]], key=lambda e: int(e["id"]))


async def settled(manager: AlertManager, served: Served) -> None:
    """Wait until the manager has handled every event committed so far."""
    target = await served.store.last_event_id()
    for _ in range(500):
        if manager._cursor >= target or not await served.store.list_events(
            after=manager._cursor, types=WATCHED_EVENTS
        ):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the alert manager did not catch up")


async def test_run_failed_fires_once_resolves_and_is_silenced(served: Served) -> None:
    manager = context_of(served.app).alerts
    await manager.start()
    try:
        flaky = await served.run(FLAKY_YAML)
        assert flaky["status"] == "succeeded" and flaky["tasks"]["once"]["attempts"] == 2
        failed = await served.run(TOGGLE_YAML, params={"code": "3"})
        assert failed["status"] == "failed"
        await settled(manager, served)

        listed = (await served.client.get("/api/v1/alerts")).json()["items"]
        assert len(listed) == 1  # the flaky run's retry did not alert
        (alert,) = listed
        assert alert["id"] == f"run_failed.{failed['run_id']}"
        assert (alert["state"], alert["workflow"], alert["run_id"]) == (
            "firing",
            "toggle",
            failed["run_id"],
        )
        assert failed["run_id"] in alert["message"] and "toggle" in alert["message"]
        arabic = await served.client.get("/api/v1/alerts", headers={"Accept-Language": "ar"})
        assert arabic.json()["items"][0]["message"] != alert["message"]
        events = await alert_events(served)
        assert [e["type"] for e in events] == ["alert.firing"]
        assert set(events[0]["data"]["message"]) == {"en", "ar"}  # type: ignore[index]

        acked = await served.client.post(f"/api/v1/alerts/{alert['id']}/ack")
        assert acked.status_code == 200 and acked.json()["acknowledged_by"] == "admin"
        missing = await served.client.post("/api/v1/alerts/run_failed.nope/ack")
        assert missing.status_code == 404 and missing.json()["code"] == "alert.not_found"

        silence = await served.client.post(
            "/api/v1/alerts/silences",
            json={"matchers": {"workflow": "toggle"}, "for": "1h", "why": "fixing it"},
        )
        assert silence.status_code == 201, silence.text
        silenced_run = await served.run(TOGGLE_YAML, params={"code": "4"})
        await settled(manager, served)
        firing = (await served.client.get("/api/v1/alerts", params={"state": "firing"})).json()
        by_run = {a["run_id"]: a for a in firing["items"]}
        assert by_run[silenced_run["run_id"]]["silenced_by"] == silence.json()["id"]
        assert [e["type"] for e in await alert_events(served)] == ["alert.firing"]

        ok = await served.run(TOGGLE_YAML)
        assert ok["status"] == "succeeded"
        await settled(manager, served)
        resolved = (await served.client.get("/api/v1/alerts", params={"state": "resolved"})).json()
        assert len(resolved["items"]) == 2
        assert (await served.client.get("/api/v1/alerts", params={"state": "firing"})).json()[
            "items"
        ] == []
        assert [e["type"] for e in await alert_events(served)] == [
            "alert.firing",
            "alert.resolved",
            "alert.resolved",
        ]
        silences = (await served.client.get("/api/v1/alerts/silences")).json()["items"]
        assert silences[0]["why"] == "fixing it" and silences[0]["by"] == "admin"
    finally:
        await manager.stop()


async def test_a_restart_neither_loses_nor_doubles_an_alert(served: Served) -> None:
    first = AlertManager(served.store, served.engine.bus)
    await first.start()
    await first.stop()  # the cursor is saved; the failure below happens while no one watches
    failed = await served.run(TOGGLE_YAML, params={"code": "1"})
    again = AlertManager(served.store, served.engine.bus)
    await again.start()  # catches up from the log
    try:
        alerts = await served.store.alert_list()
        assert [a.run_id for a in alerts] == [failed["run_id"]]
        third = AlertManager(served.store, served.engine.bus)
        third._cursor = 0
        await third.catch_up()  # a full replay changes nothing
        assert len(await served.store.alert_list()) == 1
        assert [e["type"] for e in await alert_events(served)] == ["alert.firing"]
    finally:
        await again.stop()


async def test_silence_input_is_checked(served: Served) -> None:
    for body, field in (
        ({"matchers": {"colour": "red"}, "why": "x"}, "body.matchers.colour"),
        ({"matchers": {"workflow": "a"}, "for": "soon", "why": "x"}, "body.for"),
    ):
        response = await served.client.post("/api/v1/alerts/silences", json=body)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == field
    empty = await served.client.post("/api/v1/alerts/silences", json={"matchers": {}, "why": "x"})
    assert empty.status_code == 422


async def test_health_overview_follows_alerts_and_the_store(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    calm = (await served.client.get("/api/v1/health")).json()
    assert calm["status"] == "green"
    assert set(calm["components"]) == {
        "store",
        "scheduler",
        "workers",
        "queues",
        "alerts",
        "disk",
    }
    manager = context_of(served.app).alerts
    await manager.start()
    try:
        failed = await served.run(TOGGLE_YAML, params={"code": "2"})
        await settled(manager, served)
        red = (await served.client.get("/api/v1/health")).json()
        assert red["status"] == "red" and red["components"]["alerts"]["status"] == "red"
        await served.client.post(f"/api/v1/alerts/run_failed.{failed['run_id']}/ack")
        amber = await served.client.get("/api/v1/health", headers={"Accept-Language": "ar"})
        assert amber.json()["components"]["alerts"]["status"] == "amber"
        assert "مُطلَق" in amber.json()["components"]["alerts"]["reasons"][0]
    finally:
        await manager.stop()

    async def down() -> bool:
        raise OSError("gone")

    monkeypatch.setattr(served.store, "ping", down)
    store_down = (await served.client.get("/api/v1/health")).json()
    assert store_down["components"]["store"]["status"] == "red"
    assert store_down["status"] == "red"


LATE_YAML = """\
name: late
deadline: 200ms
tasks:
  - {id: nap, uses: sleep, with: {seconds: 0.5}}
"""


async def test_a_missed_deadline_fires_then_resolves_when_the_run_ends(served: Served) -> None:
    manager = context_of(served.app).alerts
    await manager.start()
    try:
        run = await served.run(LATE_YAML)
        assert run["status"] == "succeeded"
        await settled(manager, served)
        alerts = (await served.client.get("/api/v1/alerts")).json()["items"]
        assert [(a["id"], a["state"], a["severity"]) for a in alerts] == [
            (f"deadline_missed.{run['run_id']}", "resolved", "warning")
        ]
        assert [e["type"] for e in await alert_events(served)] == [
            "alert.firing",
            "alert.resolved",
        ]
    finally:
        await manager.stop()


async def test_health_alerts_follow_the_probe(served: Served) -> None:
    facts = [await gather(served.engine, 8, served.store_home)]

    async def probe() -> Facts:
        return facts[0]

    manager = AlertManager(served.store, served.engine.bus, health_probe=probe)
    assert await manager.check_health() == []  # all well: nothing fires
    facts[0] = dataclasses.replace(facts[0], disk_free_ratio=0.01)
    (fired,) = await manager.check_health()
    assert (fired.id, fired.state) == ("health.disk", "firing")
    assert await manager.check_health() == []  # still red: no second alert
    listed = (await served.client.get("/api/v1/alerts", headers={"Accept-Language": "ar"})).json()
    assert "القرص" in listed["items"][0]["message"]
    facts[0] = dataclasses.replace(facts[0], disk_free_ratio=0.5)
    (resolved,) = await manager.check_health()
    assert resolved.state == "resolved"
    assert [e["type"] for e in await alert_events(served)] == ["alert.firing", "alert.resolved"]


# Fails on its first run only (the marker file), then exits with `then`.
CHILD_YAML = """\
name: child
params:
  marker: {type: string}
  then: {type: string, default: "0"}
tasks:
  - id: once
    run: >-
      if [ -f ${{ params.marker }} ]; then exit ${{ params.then }}; fi;
      touch ${{ params.marker }}; exit 1
"""
PARENT_YAML = """\
name: parent
params:
  marker: {type: string}
  then: {type: string, default: "0"}
tasks:
  - id: sub
    workflow: child
    with: {marker: "${{ params.marker }}", then: "${{ params.then }}"}
    retries: {max: 1, delay: 10ms}
"""


async def test_a_sub_workflow_failure_alerts_only_as_its_parents_final_failure(
    served: Served,
) -> None:
    """A child run failing fired `run_failed` though its parent's task was retried and
    succeeded; a child failing for good fired twice (the child and the parent)."""
    manager = context_of(served.app).alerts
    await manager.start()
    try:
        await served.client.post(
            "/api/v1/workflows", content=CHILD_YAML, headers={"Content-Type": "application/yaml"}
        )
        marker = served.store_home / "tried-child"
        recovered = await served.run(PARENT_YAML, params={"marker": str(marker)})
        assert recovered["status"] == "succeeded" and recovered["tasks"]["sub"]["attempts"] == 2
        await settled(manager, served)
        assert await alert_events(served) == []
        assert (await served.client.get("/api/v1/alerts")).json()["items"] == []

        marker.unlink()
        failed = await served.run(PARENT_YAML, params={"marker": str(marker), "then": "4"})
        assert failed["status"] == "failed"
        await settled(manager, served)
        events = await alert_events(served)
        assert [(e["type"], e["data"]["run_id"]) for e in events] == [  # type: ignore[index]
            ("alert.firing", failed["run_id"])
        ]
    finally:
        await manager.stop()
