"""Nothing accepted is ignored: planned fields are refused, after what can be checked is checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from basir.config import Settings, parse_pools
from basir.i18n import use_locale
from basir.spec import SpecError, TemplateResolver, load_workflow
from basir.spec.cron import cron_fields, cron_problem, timezone_problem

# DESIGN.md §4, as written there: every planned field of it is refused at its place.
DESIGN_EXAMPLE = """\
name: flutter-ci
params: {branch: {type: string, default: main}}
on:
  schedule: [{cron: "0 2 * * *", timezone: Asia/Riyadh}]
  git: {events: [push], branches: [main]}
tasks:
  - id: pub-get
    uses: flutter/pub-get
    cache: {key: "${{ hash_files('pubspec.lock') }}"}
  - id: test
    needs: [pub-get]
    run: flutter test --machine
    resources: {cpu: 2, memory: 2Gi}
  - id: build
    needs: [test]
    uses: flutter/build
    with: {target: apk}
    resources: {pools: {gradle: 1}}
"""


def issues(
    text: str, pools: dict[str, int] | None = None, resolver: TemplateResolver | None = None
) -> list[tuple[str, str, int | None, int | None]]:
    with pytest.raises(SpecError) as caught:
        load_workflow(text, "w.yaml", pools=pools, resolver=resolver)
    return [(i.code, i.format("w.yaml"), i.line, i.col) for i in caught.value.issues]


def codes_at(text: str, pools: dict[str, int] | None = None) -> list[tuple[str, int, int]]:
    return [(code, line or 0, col or 0) for code, _m, line, col in issues(text, pools)]


def test_design_example_is_refused_field_by_field() -> None:
    assert codes_at(DESIGN_EXAMPLE) == [
        ("spec.unsupported", 5, 3),  # on.git (on.schedule is run by basir server)
        ("spec.unsupported", 9, 5),  # tasks[0].cache (resources are admitted now)
    ]
    shown = [message for _c, message, _l, _col in issues(DESIGN_EXAMPLE)]
    assert shown[0].startswith("w.yaml:5:3: on.git: git triggers are not run yet")


@pytest.mark.parametrize(
    ("field", "line"),
    [("    cache: {key: k}\n", "tasks[0].cache")],
)
def test_each_planned_task_field_is_refused(field: str, line: str) -> None:
    found = issues("name: w\ntasks:\n  - id: a\n    run: 'true'\n" + field)
    assert [(code, at) for code, _m, at, _c in found] == [("spec.unsupported", 5)]
    assert f"w.yaml:5:5: {line}: " in found[0][1]


def test_git_is_refused_and_a_queue_is_not_planned() -> None:
    text = (
        "name: w\non: {git: {events: [push]}}\ndefaults: {queue: q}\ntasks:\n  - {id: a, run: x}\n"
    )
    assert codes_at(text) == [("spec.unsupported", 2, 6)]


def test_empty_triggers_and_task_priority_are_accepted() -> None:
    text = "name: w\non: {schedule: []}\ntasks:\n  - {id: a, run: x, priority: critical}\n"
    spec = load_workflow(text, "w.yaml")
    assert spec.task("a").priority == 90


@pytest.mark.parametrize(
    "cron",
    ["0 2 * * *", "*/5 * * * MON-FRI", "30 0 2 * * *", "@hourly", "@Daily", "@midnight",
     "@weekly", "@monthly", "@yearly", "@annually", "0 0 L * *", "0  9 * *  1"],
)  # fmt: skip
def test_valid_crons(cron: str) -> None:
    assert cron_problem(cron) is None


@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        ("not a cron", "a cron has 5 fields (minute hour day month weekday) or 6 (seconds first)"
                       ", got 3: not a cron"),
        ("61 * * * *", "bad minute field 61 in cron 61 * * * *"),
        ("0 0 24 * * *", "bad hour field 24 in cron 0 0 24 * * *"),
        ("0 0 31 2 *", "bad day of month field 31 in cron 0 0 31 2 *"),
        ("0 0 * 13 *", "bad month field 13 in cron 0 0 * 13 *"),
        ("0 0 * * 8", "bad day of week field 8 in cron 0 0 * * 8"),
        ("@reboot", "unknown cron macro @reboot: use @yearly, @monthly, @weekly, @daily or"
                    " @hourly"),
        ("* * * * * * *", "a cron has 5 fields (minute hour day month weekday) or 6 (seconds"
                          " first), got 7: * * * * * * *"),
        ("", "a cron has 5 fields (minute hour day month weekday) or 6 (seconds first), got 0: "),
    ],
)  # fmt: skip
def test_invalid_crons(cron: str, expected: str) -> None:
    assert cron_problem(cron) == expected


def test_macros_become_fields_for_the_scheduler() -> None:
    assert cron_fields("@hourly") == "0 * * * *"
    assert cron_fields(" 0  2 * * * ") == "0 2 * * *"


@pytest.mark.parametrize("zone", ["UTC", "Asia/Riyadh", "America/Argentina/Buenos_Aires"])
def test_valid_time_zones(zone: str) -> None:
    assert timezone_problem(zone) is None


@pytest.mark.parametrize(
    "zone", ["Mars/Base", "localtime", "../../etc/passwd", "/etc/localtime", "", "utc", "Asia"]
)
def test_invalid_time_zones(zone: str) -> None:
    problem = timezone_problem(zone)
    assert problem is not None
    assert problem.startswith(f"unknown time zone {zone}: use an IANA name")


def test_time_zone_suggestion() -> None:
    assert timezone_problem("Asia/Riyad") == (
        "unknown time zone Asia/Riyad: use an IANA name such as Asia/Riyadh or UTC"
        " (did you mean Asia/Riyadh?)"
    )


def test_schedule_problems_are_located() -> None:
    text = (
        "name: w\non:\n  schedule:\n"
        "    - {cron: not a cron, timezone: Mars/Base}\n"
        "    - {cron: '@daily', timezone: Asia/Riyadh}\n"
        "tasks:\n  - {id: a, run: x}\n"
    )
    assert codes_at(text) == [
        ("spec.cron_invalid", 4, 8),
        ("spec.timezone_invalid", 4, 26),
    ]


def test_pools_are_checked_when_given() -> None:
    text = (
        "name: w\ntasks:\n"
        "  - id: build\n    run: x\n"
        "    resources: {cpu: 2, pools: {gradle: 1, gpu: 1, gradl: 1}}\n"
    )
    assert load_workflow(text, "w.yaml").task("build").resources is not None  # no pools known
    found = issues(text, pools={"gradle": 2})
    assert [(code, line, col) for code, _m, line, col in found] == [
        ("spec.unknown_pool", 5, 44),
        ("spec.unknown_pool", 5, 52),
    ]
    assert found[0][1] == (
        "w.yaml:5:44: tasks[0].resources.pools.gpu: task build asks for pool gpu, which does not"
        " exist; pools: cpu, memory, gradle (custom pools are set with BASIR_POOLS or basir"
        " resources pool set) (did you mean cpu?)"
    )
    assert found[1][1].endswith("(did you mean gradle?)")


def test_requests_above_capacity_are_refused_at_their_place() -> None:
    text = (
        "name: w\ndefaults:\n  resources: {memory: 2Gi}\ntasks:\n"
        "  - id: build\n    run: x\n"
        "    resources: {cpu: 4, memory: 1Gi, pools: {gradle: 3}}\n"
        "  - {id: ok, run: x, resources: {cpu: 0.5, pools: {gradle: 2}}}\n"
    )
    found = issues(text, pools={"gradle": 2, "cpu": 2, "memory": 1 << 30})
    assert [(code, line, col) for code, _m, line, col in found] == [
        ("spec.resource_too_large", 3, 15),
        ("spec.resource_too_large", 7, 17),
        ("spec.resource_too_large", 7, 46),
    ]
    assert found[0][1] == (
        "w.yaml:3:15: defaults.resources.memory: task defaults asks for 2Gi of pool memory, whose"
        " capacity is 1Gi; it could never start"
    )
    assert "task build asks for 4 of pool cpu, whose capacity is 2" in found[1][1]
    assert "task build asks for 3 of pool gradle, whose capacity is 2" in found[2][1]
    fitting = text.replace("cpu: 4, memory: 1Gi, pools: {gradle: 3}", "cpu: 2, memory: 1Gi")
    fitting = fitting.replace("memory: 2Gi", "memory: 1Gi")
    spec = load_workflow(fitting, "w.yaml", pools={"gradle": 2, "cpu": 2, "memory": 1 << 30})
    assert spec.defaults.resources is not None and spec.defaults.resources.memory == 1 << 30


def test_templates_may_set_resources_but_not_a_queue(tmp_path: Path) -> None:
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "heavy.yaml").write_text(
        "task:\n  run: make\n  resources: {cpu: 8}\n  queue: big\n", encoding="utf-8"
    )
    text = "name: w\ntasks:\n  - {id: a, uses: ci/heavy}\n"
    found = issues(text, resolver=TemplateResolver([tmp_path]))
    assert [(code, line) for code, _m, line, _c in found] == [("spec.bad_template", 3)]
    assert "heavy.yaml:4:3: task.queue: queue cannot be set in a template" in found[0][1]


def test_a_templates_resources_are_checked_at_the_uses_line(tmp_path: Path) -> None:
    """A template asking for more than a pool has, or for a pool that does not exist, made the
    task wait for ever; a task's own `resources` replace the template's."""
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "heavy.yaml").write_text(
        "task:\n  run: make\n  resources: {cpu: 64, pools: {gpu: 1}}\n", encoding="utf-8"
    )
    resolver = TemplateResolver([tmp_path])
    text = (
        "name: w\ntasks:\n  - {id: a, uses: ci/heavy}\n"
        "  - {id: b, uses: ci/heavy, resources: {cpu: 1}}\n"
    )
    found = issues(text, resolver=resolver, pools={"cpu": 2})
    assert sorted((code, line, col) for code, _m, line, col in found) == [
        ("spec.resource_too_large", 3, 13),
        ("spec.unknown_pool", 3, 13),
    ]
    assert (
        "w.yaml:3:13: tasks[0].uses: task a (from template ci/heavy) asks for 64 of pool cpu,"
        " whose capacity is 2; it could never start"
    ) in [message for _c, message, _l, _col in found]
    assert load_workflow(text, "w.yaml", resolver=resolver).task("a").uses == "ci/heavy"
    spec = load_workflow(text, "w.yaml", resolver=resolver, pools={"cpu": 64, "gpu": 1})
    assert spec.task("a").uses == "ci/heavy"  # it fits there


def test_library_templates_set_no_planned_fields() -> None:
    resolver = TemplateResolver()
    for name in resolver.names():
        template = resolver.resolve(name)
        if template.task is not None:
            assert template.task.resources is None and template.task.cache is None, name


def test_messages_are_translated() -> None:
    with use_locale("ar"):
        found = issues("name: w\ntasks:\n  - {id: a, run: x, cache: {key: k}}\n")
    assert any("\u0600" <= ch <= "\u06ff" for ch in found[0][1]), found


def test_pools_setting() -> None:
    assert parse_pools("gradle=2, gpu=1,") == {"gradle": 2, "gpu": 1}
    assert Settings(pools="gradle=2").pools == {"gradle": 2}
    assert Settings().pools == {}
    for bad in ("gradle", "gradle=x", "Gradle=1", "=1"):
        with pytest.raises(ValueError, match="is not name=slots"):
            Settings(pools=bad)
    with pytest.raises(ValueError, match="is not name=slots"):
        Settings(pools="gradle=0")


def test_pools_setting_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BASIR_POOLS", "gradle=2,gpu=1")
    assert Settings().pools == {"gradle": 2, "gpu": 1}


def test_keys_a_body_would_not_read_are_refused() -> None:
    text = (
        "name: w\ntasks:\n"
        "  - {id: a, run: x, with: {a: 1}, isolate: true}\n"
        "  - {id: b, python: 'm:f', shell: bash}\n"
        "  - {id: c, uses: noop, shell: bash}\n"
        "  - {id: d, run: x, shell: bash, with: {}, isolate: false}\n"
        "  - {id: e, workflow: child, with: {x: 1}}\n"
        "  - {id: f, uses: flutter/test, shell: bash}\n"
    )
    found = issues(text)
    assert [(code, line, col) for code, _m, line, col in found] == [
        ("spec.invalid_value", 3, 21),
        ("spec.invalid_value", 3, 35),
        ("spec.invalid_value", 4, 28),
        ("spec.invalid_value", 5, 25),
    ]
    assert found[0][1] == (
        "w.yaml:3:21: tasks[0].with: with has no effect on a run task; only uses, workflow tasks"
        " read it"
    )
    assert found[3][1].endswith("shell has no effect on the built-in noop: it runs no shell")


def test_templates_follow_the_same_rule(tmp_path: Path) -> None:
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "py.yaml").write_text("task:\n  python: 'm:f'\n  shell: bash\n")
    found = issues(
        "name: w\ntasks:\n  - {id: a, uses: ci/py}\n", resolver=TemplateResolver([tmp_path])
    )
    assert [code for code, _m, _l, _c in found] == ["spec.bad_template"]
    assert "task.shell: shell has no effect on a python task" in found[0][1]


def test_secrets_and_signals_are_refused_in_expressions(tmp_path: Path) -> None:
    text = (
        "name: w\nenv: {T: '${{ secrets.TOKEN }}'}\ntasks:\n"
        "  - {id: a, run: 'echo ${{ signals.build.ok }}', if: '${{ secrets.x != null }}'}\n"
    )
    found = issues(text)
    assert [(code, line, col) for code, _m, line, col in found] == [
        ("spec.unsupported", 2, 7),
        ("spec.unsupported", 4, 13),
        ("spec.unsupported", 4, 50),
    ]
    assert found[0][1] == (
        "w.yaml:2:7: env.T: secrets are not stored yet (roadmap 8): secrets.TOKEN would always"
        " be empty; pass the value as a parameter until then"
    )
    assert "L1 signals are not received yet (roadmap 9)" in found[1][1]
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "s.yaml").write_text("task:\n  run: echo ${{ secrets.k }}\n")
    found = issues(
        "name: w\ntasks:\n  - {id: a, uses: ci/s}\n", resolver=TemplateResolver([tmp_path])
    )
    assert "secrets are not stored yet" in found[0][1]
