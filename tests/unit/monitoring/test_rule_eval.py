"""User alert rules, pure: validation, values per group, pending → firing → resolved."""

from __future__ import annotations

from collections import deque

import pytest

from basir.errors import BasirError
from basir.i18n import use_locale
from basir.monitoring.alert_rules import ALERTING_STALLED, Silence, message, on_stall
from basir.monitoring.history import Sample
from basir.monitoring.overdue import on_overdue, on_overdue_tasks
from basir.monitoring.rule_eval import count_findings, metric_findings, step
from basir.monitoring.rule_spec import AlertRuleSpec, load_rules_file, validate_rule
from basir.monitoring.store_watch import commit_totals, on_commit_totals
from basir.store.records import RunRecord, TaskRecord

MESSAGE = {"en": "queue {queue} at {value}", "ar": "الطابور {queue} عند {value}"}


def backlog(**extra: object) -> AlertRuleSpec:
    doc = {
        "name": "backlog",
        "metric": "basir_queue_depth",
        "group_by": ["queue"],
        "threshold": 10,
        "for": "1m",
        "message": MESSAGE,
    }
    return validate_rule({**doc, **extra})


def samples(**depths: float) -> list[Sample]:
    found = [Sample("basir_queue_depth", f'{{"queue":"{q}"}}', v) for q, v in depths.items()]
    return [*found, Sample("basir_other", "{}", 99.0)]


def test_a_group_is_pending_then_fires_after_for_then_resolves() -> None:
    rule = backlog()
    first = step(rule, metric_findings(rule, samples(a=50, b=1)), {}, {}, [], 100.0)
    assert first.changes == [] and list(first.pending) == ['{"queue":"a"}']
    later = step(rule, metric_findings(rule, samples(a=60, b=1)), first.pending, {}, [], 161.0)
    (fired,) = later.changes
    assert (fired.rule, fired.state, fired.severity) == ("backlog", "firing", "warning")
    assert fired.data["messages"] == {"en": "queue a at 60", "ar": "الطابور a عند 60"}
    firing = {'{"queue":"a"}': fired}
    again = step(rule, metric_findings(rule, samples(a=70)), later.pending, firing, [], 200.0)
    assert again.changes == []  # deduplicated while it holds
    gone = step(rule, metric_findings(rule, samples(a=3)), again.pending, firing, [], 300.0)
    assert [(a.id, a.state, a.resolved_at) for a in gone.changes] == [(fired.id, "resolved", 300.0)]


def test_a_condition_that_stops_holding_while_pending_never_fires() -> None:
    rule = backlog()
    first = step(rule, metric_findings(rule, samples(a=50)), {}, {}, [], 100.0)
    dropped = step(rule, metric_findings(rule, samples(a=5)), first.pending, {}, [], 130.0)
    assert dropped.pending == {}
    again = step(rule, metric_findings(rule, samples(a=50)), dropped.pending, {}, [], 170.0)
    assert again.changes == []  # the minute starts again


def test_a_silenced_firing_is_marked() -> None:
    rule = backlog(**{"for": "0s"})
    silence = Silence("s1", {"rule": "backlog"}, 1000.0, "ops", "deploy", 0.0)
    (fired,) = step(rule, metric_findings(rule, samples(a=50)), {}, {}, [silence], 100.0).changes
    assert fired.silenced_by == "s1"


def test_events_are_counted_in_their_window() -> None:
    rule = validate_rule(
        {
            "name": "failures",
            "event": "task.failed",
            "threshold": 2,
            "op": ">=",
            "window": "1m",
            "message": {"en": "{value}", "ar": "{value}"},
        }
    )
    seen = {"": deque([10.0, 50.0, 65.0])}
    assert count_findings(rule, seen, {"": {}}, 100.0)[""].value == 2.0  # 10 has left
    assert count_findings(rule, seen, {"": {}}, 200.0)[""].value == 0.0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"metric": None}, "body.metric"),
        ({"event": "run.failed"}, "body.metric"),
        ({"window": "5m"}, "body.window"),
        ({"for": "8d"}, "body.for"),
        ({"for": "soon"}, "body.for"),
        ({"name": "health"}, "body.name"),
        ({"name": "health.store"}, "body.name"),
        ({"threshold": float("inf")}, "body.threshold"),
        ({"message": {"en": "{run}", "ar": "x"}}, "body.message.en"),
        ({"op": "~"}, "body.op"),
        ({"match": {"bad-label": "x"}}, "body.match"),
        ({"colour": "red"}, "body.colour"),
    ],
)
def test_invalid_rules_name_the_field(change: dict[str, object], field: str) -> None:
    doc = backlog().to_doc() | change
    with pytest.raises(BasirError) as caught:
        validate_rule({k: v for k, v in doc.items() if v is not None})
    assert caught.value.code == "alert_rule.invalid"
    assert field in [d["field"] for d in caught.value.details]


def test_a_rules_file_refuses_twice_the_same_name() -> None:
    rule = "  - {name: a, metric: basir_queue_depth, threshold: 1, message: {en: x, ar: y}}\n"
    assert [r.name for r in load_rules_file("rules:\n" + rule, "f.yaml")] == ["a"]
    with pytest.raises(BasirError) as caught:
        load_rules_file("rules:\n" + rule + rule, "f.yaml")
    assert caught.value.details[0]["field"] == "f.yaml:rules.1.name"


def test_stalled_evaluation_fires_and_resolves_its_alert() -> None:
    (fired,) = on_stall(True, 10.0, None, [], 500.0)
    assert (fired.id, fired.state) == (ALERTING_STALLED, "firing")
    assert on_stall(True, 10.0, fired, [], 600.0) == []
    (resolved,) = on_stall(False, 590.0, fired, [], 600.0)
    assert resolved.state == "resolved"


def running(run_id: str, workflow: str, started_at: float) -> RunRecord:
    return RunRecord(
        id=run_id,
        workflow=workflow,
        version=1,
        status="running",
        created_at=started_at,
        started_at=started_at,
        updated_at=started_at,
    )


def test_a_run_past_its_usual_p95_is_overdue_until_it_ends() -> None:
    runs = [running("r1", "ci", 1000.0), running("r2", "ci", 1290.0), running("r3", "new", 0.0)]
    usual = {"ci": 240.0}  # "new" has no history: never overdue
    (fired,) = on_overdue(runs, usual, {}, [], 1300.0)  # r1: 300 s > 240 s; r2: 10 s
    assert (fired.rule, fired.run_id, fired.severity) == ("run_overdue", "r1", "warning")
    with use_locale("en"):
        assert message(fired) == (
            "run r1 of workflow ci has been running for 5m, longer than its usual 4m"
            " (p95 of the last week)"
        )
    assert on_overdue(runs, usual, {"r1": fired}, [], 1310.0) == []  # once per run
    (ended,) = on_overdue(runs[1:], usual, {"r1": fired}, [], 1320.0)
    assert (ended.run_id, ended.state) == ("r1", "resolved")
    # Short usual durations: not before a minute.
    assert on_overdue([running("r4", "ci", 1000.0)], {"ci": 2.0}, {}, [], 1050.0) == []


def test_slow_commits_fire_store_slow_and_fast_ones_resolve_it() -> None:
    assert commit_totals([Sample("basir_store_commit_seconds_sum", "{}", 1.0)]) is None
    totals = commit_totals(
        [
            Sample("basir_store_commit_seconds_sum", "{}", 10.0),
            Sample("basir_store_commit_seconds_count", "{}", 100.0),
        ]
    )
    assert totals == (10.0, 100.0)
    assert on_commit_totals(None, totals, None, [], 1.0) == []  # the first pass: no period
    assert on_commit_totals(totals, (10.2, 101.0), None, [], 2.0) == []  # one commit is no trend
    (fired,) = on_commit_totals(totals, (13.0, 104.0), None, [], 2.0)  # 0.75 s on average
    assert (fired.rule, fired.state, fired.data["commits"]) == ("store_slow", "firing", 4.0)
    with use_locale("en"):
        assert message(fired) == "the store is slow: commits took 0.75 s on average (4 commits)"
    assert on_commit_totals((13.0, 104.0), (13.0, 104.0), fired, [], 3.0) == []  # no commits
    (resolved,) = on_commit_totals((13.0, 104.0), (13.1, 110.0), fired, [], 4.0)
    assert resolved.state == "resolved"


def test_a_task_past_its_usual_p95_is_overdue_but_not_a_foreach_instance() -> None:
    def task(task_id: str, parent: str | None = None) -> TaskRecord:
        return TaskRecord("r1", task_id, "running", attempts=1, started_at=0.0, parent_id=parent)

    running = [("ci", task("test")), ("ci", task("test[0]", "test")), ("ci", task("lint"))]
    (fired,) = on_overdue_tasks(running, {("ci", "test"): 30.0}, {}, [], 100.0)
    assert (fired.id, fired.rule, fired.data["task_id"]) == (
        "task_overdue.r1.test",
        "task_overdue",
        "test",
    )
    assert on_overdue_tasks(running, {("ci", "test"): 30.0}, {fired.id: fired}, [], 110.0) == []
    (ended,) = on_overdue_tasks([], {}, {fired.id: fired}, [], 120.0)
    assert ended.state == "resolved"
