"""Templates: built-ins, the shipped library, user folders, input checks and expansion."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from basir.spec import SpecError, load_workflow
from basir.spec.expressions import render, render_run
from basir.spec.models import Task
from basir.spec.templates import (
    BUILTINS,
    LIBRARY_DIR,
    TemplateError,
    TemplateResolver,
    check_inputs,
    expand_template,
    load_template,
)

LIBRARY = [
    "flutter/pub-get",
    "flutter/analyze",
    "flutter/test",
    "flutter/build",
    "dart/format-check",
    "dart/analyze",
    "dart/test",
]


def task(**fields: object) -> Task:
    return Task.model_validate({"id": "t", **fields})


def issues(
    text: str, resolver: TemplateResolver | None = None
) -> list[tuple[str, int | None, int | None, str]]:
    with pytest.raises(SpecError) as caught:
        load_workflow(text, "w.yaml", resolver=resolver)
    return [(i.code, i.line, i.col, i.message) for i in caught.value.issues]


@pytest.mark.parametrize("name", LIBRARY)
def test_library_templates_load_and_document_themselves(name: str) -> None:
    template = TemplateResolver().resolve(name)
    assert template.name == name
    assert isinstance(template.description, dict)
    assert set(template.description) == {"en", "ar"}
    assert template.task is not None and template.task.run
    for decl in template.inputs.values():
        assert isinstance(decl.description, dict) and decl.description["ar"]


def test_library_listing_has_builtins_and_files() -> None:
    names = TemplateResolver().names()
    assert names[:4] == list(BUILTINS)
    assert set(LIBRARY) <= set(names)


def shell_words(script: str | None, context: dict[str, object]) -> list[str]:
    """The words a POSIX shell makes of a rendered one-line command (values set as env)."""
    assert script is not None
    command, values = render_run(script, context)
    result = subprocess.run(
        ["/bin/sh", "-c", "printf '%s\\n' " + command],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", **values},
    )
    return result.stdout.splitlines()


@pytest.mark.parametrize(
    ("name", "inputs", "command"),
    [
        ("flutter/pub-get", {}, "flutter pub get "),
        ("flutter/pub-get", {"offline": True}, "flutter pub get --offline"),
        ("flutter/analyze", {}, "flutter analyze --no-fatal-infos"),
        ("flutter/test", {}, "flutter test --machine "),
        ("flutter/build", {"target": "apk"}, "flutter build apk --release"),
        ("flutter/build", {"target": "web", "mode": "profile"}, "flutter build web --profile"),
        ("dart/format-check", {}, "dart format --output=none --set-exit-if-changed ."),
        ("dart/analyze", {"fatal_infos": True}, "dart analyze --fatal-infos"),
        ("dart/test", {}, "dart test --reporter json --platform vm"),
    ],
)
def test_expanded_commands(name: str, inputs: dict[str, object], command: str) -> None:
    expanded = expand_template(task(uses=name, with_=inputs), TemplateResolver(), inputs=inputs)
    assert expanded.uses is None and expanded.body_kind == "run"
    assert shell_words(expanded.run, {"inputs": expanded.with_}) == command.split()


def test_expansion_merges_task_settings() -> None:
    original = task(
        uses="flutter/build",
        with_={"target": "apk"},
        timeout="5m",
        env={"A": "1"},
    )
    expanded = expand_template(original, TemplateResolver())
    assert expanded.timeout == 300.0
    assert expanded.env == {"A": "1"}
    assert expanded.with_ == {"target": "apk", "mode": "release"}
    assert original.uses == "flutter/build"  # the spec keeps its `uses`


def test_builtins_keep_uses_and_get_defaults() -> None:
    resolver = TemplateResolver()
    assert expand_template(task(uses="sleep"), resolver).with_ == {"seconds": 1}
    assert expand_template(task(uses="noop"), resolver).uses == "noop"
    assert expand_template(task(uses="fail"), resolver).with_ == {"message": None}
    with pytest.raises(TemplateError) as caught:
        expand_template(task(uses="echo"), resolver)
    assert caught.value.code == "spec.bad_template_input"
    with pytest.raises(TemplateError):
        expand_template(task(uses="sleep", with_={"seconds": 86401}), resolver)


def test_run_time_inputs_are_checked_and_not_re_evaluated() -> None:
    original = task(uses="flutter/build", with_={"target": "${{ params.target }}"})
    resolver = TemplateResolver()
    expand_template(original, resolver)  # validation: an expression is fine
    with pytest.raises(TemplateError):
        expand_template(
            original, resolver, inputs=render(original.with_, {"params": {"target": "x"}})
        )
    values = render(original.with_, {"params": {"target": "web"}})
    expanded = expand_template(original, resolver, inputs=values)
    assert shell_words(expanded.run, {"inputs": expanded.with_}) == [
        "flutter",
        "build",
        "web",
        "--release",
    ]


def test_plain_tasks_are_not_touched() -> None:
    plain = task(run="echo")
    assert expand_template(plain, TemplateResolver()) is plain


def test_check_inputs_reports_every_problem() -> None:
    template = TemplateResolver().resolve("flutter/build")
    resolved, problems = check_inputs(template, {"mode": "fast", "targte": "apk"})
    assert [p.key for p in problems] == ["mode", "targte", None]
    assert "did you mean target?" in problems[1].message
    assert resolved == {"mode": "fast"}


def test_uses_and_with_are_validated_with_locations() -> None:
    text = (
        "name: x\ntasks:\n"
        "  - {id: a, uses: flutter/biuld}\n"
        "  - {id: b, uses: flutter/build, with: {target: apks, extra: 1}}\n"
        "  - {id: c, uses: flutter/build}\n"
        "  - {id: d, uses: sleep, with: {seconds: fast}}\n"
    )
    found = issues(text)
    assert [(code, line, col) for code, line, col, _m in found] == [
        ("spec.unknown_template", 3, 13),
        ("spec.bad_template_input", 4, 41),
        ("spec.bad_template_input", 4, 55),
        ("spec.bad_template_input", 5, 5),
        ("spec.bad_template_input", 6, 33),
    ]
    assert found[0][3] == "unknown template flutter/biuld (did you mean flutter/build?)"


def test_user_folders_come_first_and_are_checked(tmp_path: Path) -> None:
    (tmp_path / "flutter").mkdir()
    (tmp_path / "flutter" / "build.yaml").write_text(
        "inputs: {what: {required: true}}\ntask: {run: 'make ${{ inputs.what }}'}\n"
    )
    (tmp_path / "team").mkdir()
    (tmp_path / "team" / "broken.yaml").write_text("task: {run: 'x ${{ inputs.nope }}'}\n")
    resolver = TemplateResolver([tmp_path])
    assert "what" in resolver.resolve("flutter/build").inputs
    text = "name: x\ntasks:\n  - {id: a, uses: team/broken}\n"
    ((code, line, col, message),) = issues(text, resolver)
    assert (code, line, col) == ("spec.bad_template", 3, 13)
    assert message.endswith("team/broken.yaml:1:8: task.run: unknown input nope in inputs.nope")


@pytest.mark.parametrize(
    ("text", "code", "line", "col"),
    [
        ("task: {id: x, run: y}\n", "spec.invalid_value", 1, 8),
        ("task: {run: y, needs: [a]}\n", "spec.invalid_value", 1, 16),
        ("task: {run: y}\ninputs: {n: {type: integer, default: x}}\n", "spec.invalid_value", 2, 29),
        ("task: {run: '${{ params.x }}'}\n", "spec.unknown_reference", 1, 8),
        ("name: other/name\ntask: {run: y}\n", "spec.bad_template", 1, 1),
        ("task: {run: y, uses: noop}\n", "spec.invalid_value", 1, 16),
    ],
)
def test_bad_template_files(text: str, code: str, line: int, col: int) -> None:
    with pytest.raises(SpecError) as caught:
        load_template(text, "t.yaml", "team/t")
    assert [(i.code, i.line, i.col) for i in caught.value.issues] == [(code, line, col)]


def test_template_names_cannot_leave_their_folder(tmp_path: Path) -> None:
    (tmp_path / "evil.yaml").write_text("task: {run: x}\n")
    resolver = TemplateResolver([tmp_path / "sub"])
    for name in ("../evil", "/etc/passwd", "a/../../evil"):
        with pytest.raises(TemplateError):
            resolver.resolve(name)


def test_library_folder_is_inside_the_package() -> None:
    assert (LIBRARY_DIR / "flutter" / "build.yaml").is_file()
