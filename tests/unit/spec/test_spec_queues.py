"""`queue`, `concurrency_key` and `max_active_runs` in the spec: shapes, limits, located errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from basir.i18n import use_locale
from basir.spec.errors import SpecError
from basir.spec.templates import TemplateResolver
from basir.spec.validate import load_workflow

QUEUES = ["builds", "l2-api"]


def issues(text: str, queues: list[str] | None = QUEUES) -> list[tuple[str, str]]:
    with pytest.raises(SpecError) as caught:
        load_workflow(text, "w.yaml", queues=queues)
    return [(i.code, i.format("w.yaml")) for i in caught.value.issues]


def test_queues_keys_and_run_caps_are_accepted() -> None:
    text = (
        "name: w\nparams: {branch: {default: main}}\nmax_active_runs: 3\n"
        'concurrency_key: "${{ params.branch }}"\ndefaults: {queue: builds}\ntasks:\n'
        "  - {id: a, run: x, queue: l2-api, concurrency_key: {key: deploy, limit: 2}}\n"
        '  - {id: b, run: x, foreach: [1, 2], concurrency_key: "b-${{ item }}"}\n'
    )
    spec = load_workflow(text, "w.yaml", queues=QUEUES)
    assert spec.max_active_runs == 3
    assert spec.concurrency_key is not None
    assert (spec.concurrency_key.key, spec.concurrency_key.holders) == ("${{ params.branch }}", 1)
    assert spec.defaults.queue == "builds"
    first = spec.tasks[0]
    assert first.queue == "l2-api" and first.concurrency_key is not None
    assert (first.concurrency_key.key, first.concurrency_key.limit) == ("deploy", 2)


def test_an_unknown_queue_is_located_with_a_suggestion() -> None:
    text = "name: w\ndefaults: {queue: nightly}\ntasks:\n  - {id: a, run: x, queue: bilds}\n"
    assert issues(text) == [
        (
            "spec.unknown_queue",
            "w.yaml:2:12: defaults.queue: queue nightly does not exist; queues: builds, l2-api"
            " (queues are set with BASIR_QUEUES)",
        ),
        (
            "spec.unknown_queue",
            "w.yaml:4:21: tasks[0].queue: queue bilds does not exist; queues: builds, l2-api"
            " (queues are set with BASIR_QUEUES) (did you mean builds?)",
        ),
    ]
    # A file validated on its own does not know the server's queues.
    assert load_workflow(text, "w.yaml").tasks[0].queue == "bilds"


def test_bad_limits_and_keys_are_refused() -> None:
    text = (
        "name: w\nmax_active_runs: 0\nconcurrency_key: {key: '${{ params.nope }}', limit: 0}\n"
        "tasks:\n  - {id: a, run: x, queue: Bad, concurrency_key: {kee: 1}}\n"
        "  - {id: b, run: x, concurrency_key: '${{ item }}'}\n"
    )
    found = issues(text)
    assert [code for code, _m in found] == [
        "spec.invalid_value",  # max_active_runs
        "spec.unknown_reference",  # params.nope
        "spec.invalid_value",  # limit
        "spec.invalid_value",  # queue name (no unknown_queue on top of it)
        "spec.missing_key",  # concurrency_key.key
        "spec.unknown_key",  # kee
        "spec.unknown_reference",  # item outside foreach
    ]
    assert "w.yaml:2:1: max_active_runs: must be at least 1" in found[0][1]


def test_a_workflow_key_cannot_read_tasks() -> None:
    text = "name: w\nconcurrency_key: '${{ tasks.a.status }}'\ntasks:\n  - {id: a, run: x}\n"
    ((code, message),) = issues(text)
    assert code == "spec.unknown_reference"
    assert "unknown name tasks" in message


def test_templates_cannot_set_a_queue_or_key(tmp_path: Path) -> None:
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "keyed.yaml").write_text(
        "task:\n  run: make\n  concurrency_key: k\n", encoding="utf-8"
    )
    with pytest.raises(SpecError) as caught:
        load_workflow(
            "name: w\ntasks:\n  - {id: a, uses: ci/keyed}\n",
            "w.yaml",
            resolver=TemplateResolver([tmp_path]),
        )
    shown = caught.value.issues[0].format("w.yaml")
    assert "task.concurrency_key: concurrency_key cannot be set in a template" in shown


def test_unknown_queue_message_is_translated() -> None:
    with use_locale("ar"):
        found = issues("name: w\ntasks:\n  - {id: a, run: x, queue: nope}\n")
    assert any("\u0600" <= ch <= "\u06ff" for ch in found[0][1]), found


def test_a_task_key_may_have_a_rate_a_workflow_key_may_not() -> None:
    text = (
        "name: w\ntasks:\n  - {id: a, run: x, concurrency_key: {key: api, rate: 10/s}}\n"
        "  - {id: b, run: x, concurrency_key: {key: api, rate: 60/m, limit: 3}}\n"
    )
    spec = load_workflow(text, "w.yaml")
    first, second = (task.concurrency_key for task in spec.tasks)
    assert first is not None and second is not None
    assert (first.holders, first.per_value_rate) == (None, (10, 1.0))  # a rate alone: no cap
    assert (second.holders, second.per_value_rate) == (3, (60, 60.0))
    refused = issues(
        "name: w\nconcurrency_key: {key: k, rate: 1/s}\ntasks:\n  - {id: a, run: x}\n"
        "  - {id: b, run: x, concurrency_key: {key: k, rate: 0/s}}\n"
    )
    assert [code for code, _m in refused] == ["spec.invalid_value", "spec.invalid_value"]
    assert "rate is for a task's concurrency_key" in refused[0][1]
