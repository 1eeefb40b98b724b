"""User alert rules through the API on a real engine and SQLite: YAML in, alerts out."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
from monitoring_helpers import Served

from basir.api.app import context_of, create_app
from basir.config import Settings
from basir.monitoring.rule_runner import RuleRunner
from basir.store.records import AlertRecord, Batch, RunInsert, RunRecord, TaskRecord

FAILING_YAML = """\
name: breaks
tasks:
  - id: work
    run: "exit 3"
"""
FAILURES_RULE = """\
name: breaks-often
event: task.failed
match: {workflow: breaks}
group_by: [workflow]
op: ">="
threshold: 2
window: 10m
severity: critical
labels: {team: mobile}
message:
  en: "{workflow} failed {value} times (limit {threshold})"
  ar: "فشل {workflow} {value} مرات (الحد {threshold})"
"""
YAML = {"Content-Type": "application/yaml"}


def runner_of(served: Served) -> RuleRunner:
    runner = context_of(served.app).alerts.rule_runner
    assert runner is not None
    return runner


async def evaluated_until(runner: RuleRunner, firing: int) -> list[AlertRecord]:
    """Evaluate until `firing` alerts of user rules fire (events reach the runner async)."""
    fired: list[AlertRecord] = []
    for _ in range(300):
        fired += [a for a in await runner.evaluate() if a.state == "firing"]
        if len(fired) >= firing:
            return fired
        await asyncio.sleep(0.01)
    raise AssertionError(f"expected {firing} firing alerts, got {fired}")


async def test_an_event_rule_posted_as_yaml_fires_once_in_both_languages_and_resolves(
    served: Served,
) -> None:
    runner = runner_of(served)
    await context_of(served.app).alerts.start()
    await runner.start()
    try:
        posted = await served.client.post(
            "/api/v1/alerts/rules", content=FAILURES_RULE, headers=YAML
        )
        assert posted.status_code == 201, posted.text
        assert posted.json()["source"] == "api"
        assert posted.json()["rule"]["for"] == "0s"
        again = await served.client.post(
            "/api/v1/alerts/rules", content=FAILURES_RULE, headers=YAML
        )
        assert again.status_code == 200  # replaced, not duplicated
        listed = await served.client.get("/api/v1/alerts/rules")
        assert [r["name"] for r in listed.json()["items"]] == ["breaks-often"]

        await served.run(FAILING_YAML)
        assert not [a for a in await runner.evaluate() if a.state == "firing"]  # 1 < 2
        await served.run(FAILING_YAML)
        fired = await evaluated_until(runner, 1)
        assert [a.rule for a in fired] == ["breaks-often"]
        assert await runner.evaluate() == []  # still holding: deduplicated, no second alert

        alerts = await served.client.get("/api/v1/alerts", params={"state": "firing"})
        mine = [a for a in alerts.json()["items"] if a["rule"] == "breaks-often"]
        assert len(mine) == 1
        assert mine[0]["severity"] == "critical"
        assert mine[0]["workflow"] == "breaks"
        assert mine[0]["message"] == "breaks failed 2 times (limit 2)"
        arabic = await served.client.get(
            "/api/v1/alerts", params={"state": "firing"}, headers={"Accept-Language": "ar"}
        )
        assert "فشل breaks 2 مرات" in next(
            a["message"] for a in arabic.json()["items"] if a["rule"] == "breaks-often"
        )
        history = await served.client.get("/api/v1/events/history", params={"type": "alert.firing"})
        ours = [e for e in history.json()["items"] if e["data"]["rule"] == "breaks-often"]
        assert len(ours) == 1

        deleted = await served.client.delete("/api/v1/alerts/rules/breaks-often")
        assert deleted.status_code == 204
        resolved = await served.client.get("/api/v1/alerts", params={"state": "resolved"})
        assert [a["rule"] for a in resolved.json()["items"]] == ["breaks-often"]
        assert resolved.json()["items"][0]["message"].startswith("resolved: breaks failed")
        missing = await served.client.delete("/api/v1/alerts/rules/breaks-often")
        assert missing.status_code == 404
        assert missing.json()["code"] == "alert_rule.not_found"
    finally:
        await runner.stop()
        await context_of(served.app).alerts.stop()


async def test_a_metric_rule_is_pending_until_its_for_has_passed(served: Served) -> None:
    runner = runner_of(served)
    rule = {
        "name": "any-sse",
        "metric": "basir_sse_clients",
        "op": ">=",
        "threshold": 0,
        "for": "1h",
        "message": {"en": "{value} clients", "ar": "{value} عملاء"},
    }
    posted = await served.client.post("/api/v1/alerts/rules", json=rule)
    assert posted.status_code == 201, posted.text
    assert await runner.evaluate() == []
    pending = await served.client.get("/api/v1/alerts", params={"state": "pending"})
    assert [(a["rule"], a["state"], a["message"]) for a in pending.json()["items"]] == [
        ("any-sse", "pending", "0 clients")
    ]
    firing = await served.client.get("/api/v1/alerts", params={"state": "firing"})
    assert firing.json()["items"] == []
    runner.clock = lambda: 10**10  # an hour (and more) later
    fired = await runner.evaluate()
    assert [(a.rule, a.state) for a in fired] == [("any-sse", "firing")]


async def test_bad_rules_are_refused_with_located_errors_and_change_nothing(
    served: Served,
) -> None:
    bad = """\
name: run_failed
metric: basir_queue_depth
event: run.failed
threshold: 1
window: 0s
for: 30d
message: {en: "{nope}", ar: "x"}
"""
    refused = await served.client.post("/api/v1/alerts/rules", content=bad, headers=YAML)
    assert refused.status_code == 422
    body = refused.json()
    assert body["code"] == "alert_rule.invalid"
    fields = {d["field"] for d in body["errors"]}
    assert {"body.metric", "body.name", "body.for", "body.message.en"} <= fields
    unknown = await served.client.post(
        "/api/v1/alerts/rules",
        json={
            "name": "x",
            "metric": "basir_queue_depth",
            "threshold": 1,
            "colour": "red",
            "message": {"en": "a", "ar": "b"},
        },
        headers={"Accept-Language": "ar"},
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "body.colour"
    not_yaml = await served.client.post(
        "/api/v1/alerts/rules", content="name: [unclosed", headers=YAML
    )
    assert not_yaml.status_code == 422
    assert not_yaml.json()["code"] == "alert_rule.invalid"
    listed = await served.client.get("/api/v1/alerts/rules")
    assert listed.json()["items"] == []


async def test_rules_of_the_file_are_listed_and_read_only(served: Served, tmp_path: Path) -> None:
    rules_file = tmp_path / "rules.yaml"
    lines = FAILURES_RULE.splitlines()
    rules_file.write_text(
        "rules:\n"
        + "".join(("  - " if i == 0 else "    ") + line + "\n" for i, line in enumerate(lines))
    )
    settings = Settings(home=tmp_path / "home2", alert_rules_file=rules_file)
    app = create_app(served.engine, settings, metrics=served.metrics)
    runner = context_of(app).alerts.rule_runner
    assert runner is not None
    await runner.load()
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {served.token}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as c:
        listed = await c.get("/api/v1/alerts/rules")
        assert [(r["name"], r["source"]) for r in listed.json()["items"]] == [
            ("breaks-often", "file")
        ]
        replaced = await c.post("/api/v1/alerts/rules", content=FAILURES_RULE, headers=YAML)
        assert replaced.status_code == 409
        assert replaced.json()["code"] == "alert_rule.read_only"
        deleted = await c.delete("/api/v1/alerts/rules/breaks-often")
        assert deleted.status_code == 409


async def test_stalled_rule_evaluation_is_an_alert_in_the_api(served: Served) -> None:
    manager = context_of(served.app).alerts
    runner = runner_of(served)
    await runner.evaluate()
    assert runner.last_evaluated_at is not None
    await manager.check_health()
    firing = await served.client.get("/api/v1/alerts", params={"state": "firing"})
    assert "alerting_stalled" not in [a["rule"] for a in firing.json()["items"]]
    runner.last_evaluated_at -= 3600  # no pass for an hour
    await manager.check_health()
    firing = await served.client.get(
        "/api/v1/alerts", params={"state": "firing"}, headers={"Accept-Language": "ar"}
    )
    stalled = [a for a in firing.json()["items"] if a["rule"] == "alerting_stalled"]
    assert len(stalled) == 1 and stalled[0]["severity"] == "error"
    await runner.evaluate()
    await manager.check_health()
    resolved = await served.client.get("/api/v1/alerts", params={"state": "resolved"})
    assert [a["rule"] for a in resolved.json()["items"]] == ["alerting_stalled"]


SLEEPY_YAML = """\
name: sleepy
tasks:
  - id: nap
    uses: sleep
    with: {seconds: 30}
"""


def sleepy_history(now: float) -> list[RunInsert]:
    """Five ended runs of `sleepy` an hour ago: runs of 2..6 s, tasks of 1..5 s."""
    return [
        RunInsert(
            RunRecord(
                id=f"old{i}",
                workflow="sleepy",
                version=1,
                status="succeeded",
                created_at=now - 3600 + i,
                started_at=now - 3600 + i,
                finished_at=now - 3600 + i + 2 + i,  # 2..6 s: p95 5.8 s
                updated_at=now - 3000,
            ),
            [
                TaskRecord(
                    f"old{i}",
                    "nap",
                    "succeeded",
                    attempts=1,
                    queued_at=now - 3600 + i,
                    started_at=now - 3600 + i,
                    finished_at=now - 3600 + i + 1 + i,  # 1..5 s: p95 4.8 s
                )
            ],
        )
        for i in range(5)
    ]


async def test_a_run_longer_than_its_usual_p95_is_an_alert_until_it_ends(served: Served) -> None:
    now = time.time()
    history = sleepy_history(now)
    await served.store.write(Batch(history, []))
    applied = await served.client.post("/api/v1/workflows", content=SLEEPY_YAML, headers=YAML)
    assert applied.status_code == 201, applied.text
    started = await served.client.post("/api/v1/workflows/sleepy/runs", json={})
    run_id = started.json()["run_id"]
    manager = context_of(served.app).alerts
    for _ in range(500):
        run = await served.store.get_run(run_id)
        if run is not None and run.status == "running":
            break
        await asyncio.sleep(0.01)
    await manager.check_health()  # a few seconds in: not overdue
    firing = await served.client.get("/api/v1/alerts", params={"state": "firing"})
    assert [a for a in firing.json()["items"] if a["rule"] == "run_overdue"] == []
    manager.clock = lambda: time.time() + 120  # two minutes later
    await manager.check_health()
    firing = await served.client.get("/api/v1/alerts", params={"state": "firing"})
    overdue = [a for a in firing.json()["items"] if a["rule"] == "run_overdue"]
    assert [(a["run_id"], a["workflow"], a["severity"]) for a in overdue] == [
        (run_id, "sleepy", "warning")
    ]
    assert "longer than its usual 5s" in overdue[0]["message"]
    (task,) = [a for a in firing.json()["items"] if a["rule"] == "task_overdue"]
    assert task["run_id"] == run_id
    assert task["message"].startswith(f"task nap of run {run_id} (sleepy) has been running for")
    assert "longer than its usual 4s" in task["message"]
    cancelled = await served.client.post(f"/api/v1/runs/{run_id}/cancel")
    assert cancelled.status_code in (200, 202), cancelled.text
    await served.engine.wait(run_id)
    await manager.check_health()
    resolved = await served.client.get("/api/v1/alerts", params={"state": "resolved"})
    assert sorted(
        (a["rule"], a["run_id"]) for a in resolved.json()["items"] if "overdue" in a["rule"]
    ) == [("run_overdue", run_id), ("task_overdue", run_id)]


async def running(served: Served, run_id: str) -> None:
    """Wait until the run is running."""
    for _ in range(500):
        run = await served.store.get_run(run_id)
        if run is not None and run.status == "running":
            return
        await asyncio.sleep(0.01)


async def test_history_that_ends_after_the_cached_p95_still_counts(served: Served) -> None:
    """The p95 were cached for 10 minutes: a check made before a workflow had history left
    its runs unwatched that long, however overdue (seen on a real server)."""
    applied = await served.client.post("/api/v1/workflows", content=SLEEPY_YAML, headers=YAML)
    assert applied.status_code == 201, applied.text
    manager = context_of(served.app).alerts
    first = (await served.client.post("/api/v1/workflows/sleepy/runs", json={})).json()
    await running(served, first["run_id"])
    await manager.check_health()  # no history yet: nothing to compare with
    await served.client.post(f"/api/v1/runs/{first['run_id']}/cancel")
    await served.engine.wait(first["run_id"])
    await served.store.write(Batch(sleepy_history(time.time()), []))  # five runs end later
    second = (await served.client.post("/api/v1/workflows/sleepy/runs", json={})).json()
    await running(served, second["run_id"])
    manager.clock = lambda: time.time() + 120  # two minutes later, well within 10
    await manager.check_health()
    firing = await served.client.get("/api/v1/alerts", params={"state": "firing"})
    overdue = [a for a in firing.json()["items"] if a["rule"] == "run_overdue"]
    assert [a["run_id"] for a in overdue] == [second["run_id"]]
    await served.client.post(f"/api/v1/runs/{second['run_id']}/cancel")
    await served.engine.wait(second["run_id"])


async def test_slow_store_commits_are_an_alert(served: Served) -> None:
    runner = runner_of(served)
    await runner.evaluate()  # the first pass: totals to compare with
    for _ in range(3):
        served.metrics.commit_latency.observe(2.0)  # three commits of 2 s
    fired = await runner.evaluate()
    assert [(a.rule, a.state) for a in fired] == [("store_slow", "firing")]
    arabic = await served.client.get(
        "/api/v1/alerts", params={"state": "firing"}, headers={"Accept-Language": "ar"}
    )
    assert [a["rule"] for a in arabic.json()["items"]] == ["store_slow"]
    assert arabic.json()["items"][0]["message"].startswith("المخزن بطيء: استغرق التثبيت 2.00")
    for _ in range(5):
        served.metrics.commit_latency.observe(0.001)
    resolved = await runner.evaluate()
    assert [(a.rule, a.state) for a in resolved] == [("store_slow", "resolved")]
