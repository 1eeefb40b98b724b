"""Whole-workflow validation: every error kind, located at an exact line and column."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from basir.i18n import catalog
from basir.spec import SpecError, load_workflow, load_workflow_file
from basir.spec.models import MAX_TASKS

EXAMPLE = Path(__file__).parents[3] / "examples" / "flutter-ci.yaml"


def issues(text: str, filename: str = "w.yaml") -> list[tuple[str, int | None, int | None]]:
    with pytest.raises(SpecError) as caught:
        load_workflow(text, filename)
    return [(issue.code, issue.line, issue.col) for issue in caught.value.issues]


def messages(text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_workflow(text, "w.yaml")
    return [issue.format("w.yaml") for issue in caught.value.issues]


def test_design_example_loads_and_validates() -> None:
    spec = load_workflow_file(EXAMPLE)
    assert [task.id for task in spec.tasks] == ["pub-get", "analyze", "test", "build", "report"]
    assert spec.priority == 70 and spec.concurrency == 4 and spec.on is None
    build = spec.task("build")
    assert build.uses == "flutter/build"
    assert build.with_ == {"target": "apk"}
    assert build.if_ == "${{ params.branch == 'main' }}"
    assert spec.task("report").http is not None


def test_valid_json_workflow() -> None:
    text = (
        '{"name": "j", "tasks": [{"id": "a", "run": "true"},'
        ' {"id": "b", "needs": "a", "uses": "noop"}]}'
    )
    spec = load_workflow(text, "w.json")
    assert spec.task("b").needs == ["a"]


def test_unknown_key_with_suggestion() -> None:
    text = "name: x\ntasks:\n  - id: a\n    run: x\n    need: [b]\n"
    assert issues(text) == [("spec.unknown_key", 5, 5)]
    assert messages(text) == ["w.yaml:5:5: tasks[0].need: unknown key need (did you mean needs?)"]


def test_missing_key_points_at_the_parent() -> None:
    assert issues("name: x\ntasks:\n  - run: x\n") == [("spec.missing_key", 3, 5)]
    assert messages("tasks:\n  - {id: a, run: x}\n") == [
        "w.yaml:1:1: name: missing required key name"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: Bad\ntasks: [{id: a, run: x}]\n", "w.yaml:1:1: name: bad name Bad: use lower-case"),
        (
            "name: x\ntasks:\n  - {id: a, run: x, when: never}\n",
            "w.yaml:3:21: tasks[0].when: must be one of: on_success, on_failure, always",
        ),
        (
            "name: x\ntasks:\n  - id: a\n    run: x\n    timeout: 5x\n",
            "w.yaml:5:5: tasks[0].timeout: a duration must look like 500ms, 30s, 5m, 2h or 1d",
        ),
        (
            "name: x\nconcurrency: 0\ntasks: [{id: a, run: x}]\n",
            "w.yaml:2:1: concurrency: must be at least 1",
        ),
        ("name: x\ntasks: []\n", "w.yaml:2:1: tasks: needs at least 1 entries"),
        (
            "name: x\ndescription: 5\ntasks: [{id: a, run: x}]\n",
            "w.yaml:2:1: description: must be text or",
        ),
        (
            "name: x\ntasks:\n  - {id: a, run: x, retries: {max: many}}\n",
            "w.yaml:3:31: tasks[0].retries.max: must be a whole number, got many",
        ),
        (
            "name: x\nparams: {bad name: {}}\ntasks: [{id: a, run: x}]\n",
            'w.yaml:2:10: params["bad name"]: bad parameter name: bad name',
        ),
    ],
)
def test_invalid_values(text: str, expected: str) -> None:
    (found,) = messages(text)
    assert found.startswith(expected)


RESOURCE_LINE = "name: x\ntasks:\n  - {{id: a, run: x, resources: {}}}\n"


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        ("{cpu: true}", "tasks[0].resources.cpu: must be a number, got true"),
        ("{pools: {gradle: true}}", "tasks[0].resources.pools.gradle: must be a number, got true"),
        (
            "{pools: {cpu: 2}}",
            "tasks[0].resources.pools.cpu: cpu is not a custom pool: declare it as resources.cpu",
        ),
        ("{pools: {memory: 1}}", "tasks[0].resources.pools.memory: memory is not a custom pool"),
        ("{memory: 0}", "tasks[0].resources.memory: memory must be at least 1Mi"),
        ("{memory: 512}", "tasks[0].resources.memory: memory must be at least 1Mi"),
        ("{disk: 0}", "tasks[0].resources.disk: disk must be more than 0"),
    ],
)
def test_resource_amounts_that_would_mean_nothing_are_refused(
    resources: str, expected: str
) -> None:
    """Each was accepted and then ignored (`memory: 0`), miscounted (`pools: {cpu: 2}` held two
    millicores) or read as 1 (`cpu: true`)."""
    (found,) = messages(RESOURCE_LINE.format(resources))
    assert found.split(": ", 1)[1].startswith(expected), found


def test_resource_amounts_that_mean_something_load() -> None:
    text = RESOURCE_LINE.format("{cpu: 0.25, memory: 1Mi, disk: 1, pools: {gradle: 1}}")
    resources = load_workflow(text, "w.yaml").task("a").resources
    assert resources is not None
    assert (resources.cpu, resources.memory, resources.disk) == (0.25, 1 << 20, 1)


def test_env_numbers_and_booleans_become_text() -> None:
    spec = load_workflow("name: x\nenv: {PORT: 8080, DEBUG: true}\ntasks: [{id: a, run: x}]\n")
    assert spec.env == {"PORT": "8080", "DEBUG": "true"}


def test_duplicate_task() -> None:
    text = "name: x\ntasks:\n  - id: a\n    run: x\n  - id: a\n    run: y\n"
    assert issues(text) == [("spec.duplicate_task", 5, 5)]
    assert "first at line 3" in messages(text)[0]


def test_unknown_need_with_suggestion() -> None:
    text = "name: x\ntasks:\n  - id: build\n    run: x\n  - id: b\n    needs: [biuld]\n    run: y\n"
    assert issues(text) == [("spec.unknown_need", 6, 13)]
    assert messages(text)[0].endswith("unknown task biuld in needs (did you mean build?)")


def test_self_need() -> None:
    assert issues("name: x\ntasks:\n  - {id: a, needs: a, run: x}\n") == [("spec.self_need", 3, 13)]


def test_cycle_is_named() -> None:
    text = (
        "name: x\ntasks:\n"
        "  - {id: a, needs: [c], run: x}\n"
        "  - {id: b, needs: [a], run: x}\n"
        "  - {id: c, needs: [ok, b], run: x}\n"
        "  - {id: ok, run: x}\n"
    )
    assert issues(text) == [("spec.cycle", 3, 21)]
    assert messages(text)[0].endswith("cycle in needs: a → c → b → a")


def test_two_bodies_points_at_the_second() -> None:
    text = "name: x\ntasks:\n  - id: a\n    run: x\n    http: {url: 'http://x'}\n"
    assert issues(text) == [("spec.two_bodies", 5, 5)]


def test_two_bodies_is_reported_next_to_other_errors() -> None:
    text = "name: x\ntasks:\n  - id: a\n    run: x\n    uses: noop\n    bogus: 1\n"
    assert issues(text) == [("spec.two_bodies", 5, 5), ("spec.unknown_key", 6, 5)]


def test_no_body() -> None:
    assert issues("name: x\ntasks:\n  - id: a\n") == [("spec.no_body", 3, 5)]


def test_bad_expression_is_located() -> None:
    text = "name: x\ntasks:\n  - id: a\n    run: echo ${{ 1 + }}\n"
    assert issues(text) == [("spec.bad_expression", 4, 5)]
    text = "name: x\ntasks:\n  - id: a\n    run: echo ${{ 1\n"
    assert issues(text) == [("spec.bad_expression", 4, 5)]


def test_bare_if_is_an_expression() -> None:
    ok = "name: x\nparams: {p: {}}\ntasks:\n  - {id: a, run: x, if: \"params.p == 'x'\"}\n"
    load_workflow(ok)
    bad = "name: x\ntasks:\n  - {id: a, run: x, if: 'params.p =='}\n"
    assert issues(bad) == [("spec.bad_expression", 3, 21)]


def test_references_must_exist_and_be_upstream() -> None:
    text = (
        "name: x\nparams: {branch: {}}\ntasks:\n"
        "  - {id: a, run: x}\n"
        "  - {id: b, run: x}\n"
        "  - id: c\n"
        "    needs: [b]\n"
        "    run: echo ${{ tasks.b.outputs.v }} ${{ tasks.a.outputs.v }}\n"
        "    env: {X: '${{ params.brnch }}', Y: '${{ item }}', Z: '${{ tasks.zz.status }}'}\n"
    )
    found = messages(text)
    assert found == [
        "w.yaml:8:5: tasks[2].run: task c reads tasks.a but does not need it: add a to its needs",
        "w.yaml:9:11: tasks[2].env.X: unknown parameter brnch in params.brnch"
        " (did you mean branch?)",
        "w.yaml:9:37: tasks[2].env.Y: unknown name item in item; expressions here can use: "
        "env, params, run, secrets, signals, tasks",
        "w.yaml:9:55: tasks[2].env.Z: unknown task zz in tasks.zz.status",
    ]


def test_run_fields_must_exist() -> None:
    ok = (
        "name: x\ntasks:\n  - id: a\n    run: echo ${{ run.logical_time }} ${{ run.trigger }}"
        " ${{ run['id'] }} ${{ run.workflow }} ${{ run.version }} ${{ run.priority }}\n"
    )
    load_workflow(ok)
    bad = "name: x\ntasks:\n  - {id: a, run: 'echo ${{ run.logical_date }}'}\n"
    assert messages(bad) == [
        "w.yaml:3:13: tasks[0].run: unknown run field logical_date in run.logical_date; a run"
        " has: id, logical_time, priority, trigger, version, workflow (did you mean logical_time?)"
    ]
    assert issues(bad) == [("spec.unknown_reference", 3, 13)]


def test_transitive_needs_may_be_read() -> None:
    text = (
        "name: x\ntasks:\n"
        "  - {id: a, run: x}\n"
        "  - {id: b, needs: a, run: x}\n"
        "  - {id: c, needs: b, run: 'echo ${{ tasks.a.outputs.v }}', if: tasks.a.status == 'ok'}\n"
    )
    load_workflow(text)


def test_item_and_index_only_in_foreach_tasks() -> None:
    ok = (
        "name: x\ntasks:\n"
        "  - {id: a, foreach: '${{ [1, 2] }}', run: 'echo ${{ item }} ${{ index }}'}\n"
    )
    load_workflow(ok)
    bad = "name: x\ntasks:\n  - {id: a, foreach: '${{ item }}', run: x}\n"
    assert issues(bad) == [("spec.unknown_reference", 3, 13)]


def test_workflow_env_cannot_read_tasks() -> None:
    text = "name: x\nenv: {A: '${{ tasks.a.outputs.x }}'}\ntasks: [{id: a, run: x}]\n"
    assert issues(text) == [("spec.unknown_reference", 2, 7)]


def test_all_issues_are_reported_at_once_in_file_order() -> None:
    text = (
        "name: x\ntasks:\n"
        "  - {id: a, needs: [zz], run: x}\n"
        "  - {id: a, run: x, bogus: 1}\n"
        "  - {id: c, uses: flutter/biuld}\n"
    )
    assert issues(text) == [
        ("spec.unknown_need", 3, 21),
        ("spec.duplicate_task", 4, 6),
        ("spec.unknown_key", 4, 21),
        ("spec.unknown_template", 5, 13),
    ]


def test_too_many_tasks_is_checked_first() -> None:
    tasks = ",".join(['{"id": "a", "run": "x"}'] * (MAX_TASKS + 1))
    text = '{"name": "x",\n "tasks": [' + tasks + "]}"
    assert issues(text, "w.json") == [("spec.too_large", 2, 2)]


def test_many_problems_are_capped() -> None:
    text = "name: x\ntasks:\n" + "".join(f"  - {{id: t{i}, needs: [nope]}}\n" for i in range(300))
    with pytest.raises(SpecError) as caught:
        load_workflow(text)
    assert len(caught.value.issues) == 201
    assert caught.value.issues[-1].code == "spec.too_many_issues"


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load_workflow_file(tmp_path / "missing.yaml")
    assert caught.value.codes == ["spec.unreadable"]


def test_every_message_goes_through_the_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a catalog that marks every lookup, every message of every issue is marked."""

    def fake_lookup(msgid: Any, locale: str) -> str:
        return f"«{msgid}»" if isinstance(msgid, str) else msgid

    monkeypatch.setattr(catalog, "_lookup", fake_lookup)
    text = (
        "name: Bad\nconcurrency: zero\ndescription: 5\ntasks:\n"
        "  - {id: a, needs: [a, zz], run: 'x ${{ 1 + }}', when: never, bogus: 1}\n"
        "  - {id: b, uses: flutter/build, with: {target: apks}}\n"
        "  - {id: b, run: x, http: {url: u}}\n"
        "  - {run: x, timeout: 5x, retries: {max: x}}\n"
    )
    with pytest.raises(SpecError) as caught:
        load_workflow(text)
    assert len(caught.value.issues) >= 10
    for issue in caught.value.issues:
        assert issue.message.startswith("«"), issue
