"""`/api/v1/schedules`: list with the schedule's own offset, pause and resume by name or id."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime

import httpx
from api_helpers import assert_problem

from basir.coordinator.schedules import Scheduler
from basir.engine.runtime import Engine

SPEC = """\
name: riyadh
on:
  schedule:
    - {cron: "0 2 * * *", timezone: Asia/Riyadh}
    - {cron: "@hourly", overlap: allow, catchup: all}
tasks:
  - {id: a, uses: noop}
"""


async def test_list_pause_resume(client: httpx.AsyncClient) -> None:
    applied = await client.post(
        "/api/v1/workflows", content=SPEC, headers={"Content-Type": "application/yaml"}
    )
    assert applied.status_code == 201
    items = (await client.get("/api/v1/schedules")).json()["items"]
    assert [(i["id"], i["cron"], i["timezone"], i["paused"]) for i in items] == [
        ("riyadh:0", "0 2 * * *", "Asia/Riyadh", False),
        ("riyadh:1", "@hourly", "UTC", False),
    ]
    assert items[0]["next_fire"].endswith("T02:00:00+03:00")
    assert (items[1]["overlap"], items[1]["catchup"]) == ("allow", "all")

    paused = (await client.post("/api/v1/schedules/riyadh:1/pause")).json()["items"]
    assert [(i["id"], i["paused"]) for i in paused] == [("riyadh:1", True)]
    both = (await client.post("/api/v1/schedules/riyadh/pause")).json()["items"]
    assert [i["paused"] for i in both] == [True, True]
    resumed = (await client.post("/api/v1/schedules/riyadh/resume")).json()["items"]
    assert [i["paused"] for i in resumed] == [False, False]
    kinds = (await client.get("/api/v1/events/history", params={"workflow": "riyadh"})).json()
    types = [e["type"] for e in kinds["items"]]
    assert types.count("schedule.paused") == 2 and types.count("schedule.resumed") == 2

    assert_problem(await client.post("/api/v1/schedules/nope/pause"), 404, "schedule.not_found")
    assert_problem(
        await client.post("/api/v1/schedules/riyadh:7/resume"), 404, "schedule.not_found"
    )


async def test_next_fires_in_the_schedules_own_zone(client: httpx.AsyncClient) -> None:
    await client.post(
        "/api/v1/workflows", content=SPEC, headers={"Content-Type": "application/yaml"}
    )
    answer = await client.get("/api/v1/schedules/riyadh:0/next", params={"n": 3})
    assert answer.status_code == 200
    [item] = answer.json()["items"]
    assert (item["id"], item["timezone"]) == ("riyadh:0", "Asia/Riyadh")
    assert len(item["next"]) == 3 and all(t.endswith("T02:00:00+03:00") for t in item["next"])
    days = [datetime.fromisoformat(t) for t in item["next"]]
    assert [(b - a).days for a, b in itertools.pairwise(days)] == [1, 1]
    both = (await client.get("/api/v1/schedules/riyadh/next")).json()["items"]
    assert [(i["id"], len(i["next"])) for i in both] == [("riyadh:0", 5), ("riyadh:1", 5)]
    assert_problem(await client.get("/api/v1/schedules/nope/next"), 404, "schedule.not_found")
    too_many = await client.get("/api/v1/schedules/riyadh/next", params={"n": 1001})
    assert too_many.status_code == 422


async def test_backfill_is_stored_and_bad_windows_refused(client: httpx.AsyncClient) -> None:
    await client.post(
        "/api/v1/workflows", content=SPEC, headers={"Content-Type": "application/yaml"}
    )
    body = {"from": "2026-01-01T00:00", "to": "2026-01-01T02:00", "max_active": 2}
    answer = await client.post("/api/v1/schedules/riyadh:1/backfill", json=body)
    assert answer.status_code == 202
    assert [(i["schedule"], i["fires"]) for i in answer.json()["items"]] == [("riyadh:1", 3)]
    bad = {"from": "2026-01-02", "to": "2026-01-01"}
    assert_problem(
        await client.post("/api/v1/schedules/riyadh/backfill", json=bad),
        422,
        "schedule.invalid_window",
    )
    assert_problem(
        await client.post("/api/v1/schedules/nope/backfill", json=body), 404, "schedule.not_found"
    )


async def test_scheduler_analytics(client: httpx.AsyncClient, engine: Engine) -> None:
    text = "name: quick\ntasks:\n  - {id: a, uses: noop}\n"
    await client.post(
        "/api/v1/workflows", content=text, headers={"Content-Type": "application/yaml"}
    )
    started = await client.post("/api/v1/workflows/quick/runs", json={"priority": "high"})
    run_id = started.json()["run_id"]
    assert (await engine.wait(run_id)).status == "succeeded"
    found = (await client.get("/api/v1/scheduler/analytics", params={"window": "1h"})).json()
    assert found["window_s"] == 3600.0
    assert found["classes"]["high"]["tasks"] == 1
    assert found["classes"]["high"]["wait_p50_s"] >= 0
    assert found["queues"]["default"]["preemptions"] == 0
    bad = await client.get("/api/v1/scheduler/analytics", params={"window": "0s"})
    assert_problem(bad, 422, "request.invalid")


async def test_run_at_starts_one_run_later_with_the_requests_choices(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    text = (
        "name: later\nparams: {who: {type: string, default: x}}\ntasks:\n  - {id: a, uses: noop}\n"
    )
    await client.post(
        "/api/v1/workflows", content=text, headers={"Content-Type": "application/yaml"}
    )
    when = time.time() + 3600
    body = {"run_at": datetime.fromtimestamp(when, UTC).isoformat(), "params": {"who": "ali"},
            "priority": "critical"}  # fmt: skip
    answer = await client.post("/api/v1/workflows/later/runs", json=body)
    assert answer.status_code == 202, answer.text
    delayed = answer.json()
    assert delayed["cron"] is None and delayed["id"].startswith("later:at:")
    listed = (await client.get("/api/v1/schedules")).json()["items"]
    assert [i["id"] for i in listed] == [delayed["id"]]

    clock = Scheduler(engine.store, engine)
    assert await clock.tick(when - 1) == []
    [run_id] = await clock.tick(when + 1)
    finished = await engine.wait(run_id)
    assert (finished.status, finished.params, finished.priority) == (
        "succeeded",
        {"who": "ali"},
        90,
    )
    assert await clock.tick(when + 3600) == []  # once

    past = {"run_at": "2020-01-01T00:00:00Z"}
    assert_problem(
        await client.post("/api/v1/workflows/later/runs", json=past), 422, "run.invalid_run_at"
    )
    wrong = {"run_at": body["run_at"], "params": {"nope": 1}}
    answer = await client.post("/api/v1/workflows/later/runs", json=wrong)
    assert answer.status_code == 422
