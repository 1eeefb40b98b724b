"""Every numeric field of the spec refuses a flag, a fraction where a whole number is meant,
or text; a value it keeps is kept exactly (DESIGN invariant 6: never silently changed)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from basir.spec import SpecError, WorkflowSpec, load_workflow
from basir.spec.errors import format_path

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
Place = Callable[[object], dict[str, Any]]
Read = Callable[[WorkflowSpec], object]


def _task(**fields: object) -> dict[str, Any]:
    return {"name": "nums", "tasks": [{"id": "a", "run": "true", **fields}]}


def _top(**fields: object) -> dict[str, Any]:
    return {"name": "nums", **fields, "tasks": [{"id": "a", "run": "true"}]}


def _schedule(value: object) -> dict[str, Any]:
    schedule = {"cron": "0 * * * *", "catchup": "all", "catchup_limit": value}
    return _top(on={"schedule": [schedule]})


# (place the value in a spec, its field path, read it back, a whole number is meant)
FIELDS: dict[str, tuple[Place, str, Read, bool]] = {
    "concurrency": (lambda v: _top(concurrency=v), "concurrency", lambda s: s.concurrency, True),
    "max_active_runs": (
        lambda v: _top(max_active_runs=v),
        "max_active_runs",
        lambda s: s.max_active_runs,
        True,
    ),
    "priority": (lambda v: _top(priority=v), "priority", lambda s: s.priority, True),
    "task.priority": (
        lambda v: _task(priority=v),
        "tasks[0].priority",
        lambda s: s.tasks[0].priority,
        True,
    ),
    "retries.max": (
        lambda v: _task(retries={"max": v}),
        "tasks[0].retries.max",
        lambda s: s.tasks[0].retries.max,  # type: ignore[union-attr]
        True,
    ),
    "retries.jitter": (
        lambda v: _task(retries={"max": 1, "jitter": v}),
        "tasks[0].retries.jitter",
        lambda s: s.tasks[0].retries.jitter,  # type: ignore[union-attr]
        False,
    ),
    "concurrency_key.limit": (
        lambda v: _task(concurrency_key={"key": "k", "limit": v}),
        "tasks[0].concurrency_key.limit",
        lambda s: s.tasks[0].concurrency_key.limit,  # type: ignore[union-attr]
        True,
    ),
    "catchup_limit": (
        _schedule,
        "on.schedule[0].catchup_limit",
        lambda s: s.on.schedule[0].catchup_limit,  # type: ignore[union-attr]
        True,
    ),
    "params.default": (
        lambda v: _top(params={"n": {"type": "integer", "default": v}}),
        "params.n.default",
        lambda s: s.params["n"].default,
        True,
    ),
    "timeout": (
        lambda v: _task(timeout=v),
        "tasks[0].timeout",
        lambda s: s.tasks[0].timeout,
        False,
    ),
    "deadline": (lambda v: _top(deadline=v), "deadline", lambda s: s.deadline, False),
    "resources.cpu": (
        lambda v: _task(resources={"cpu": v}),
        "tasks[0].resources.cpu",
        lambda s: s.tasks[0].resources.cpu,  # type: ignore[union-attr]
        False,
    ),
    "resources.pools": (
        lambda v: _task(resources={"pools": {"gradle": v}}),
        "tasks[0].resources.pools.gradle",
        lambda s: s.tasks[0].resources.pools["gradle"],  # type: ignore[union-attr]
        True,
    ),
}
VALUES = st.one_of(
    st.booleans(),
    st.integers(-5, 2_000_000),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-10, max_value=1e6),
    st.sampled_from(["1", "2", "yes", "true", "1.5", "x"]),
)


def _outcome(field: str, value: object) -> tuple[object, list[tuple[str, str, int | None]]]:
    place, _path, read, _whole = FIELDS[field]
    try:
        spec = load_workflow(json.dumps(place(value)), "nums.json")
    except SpecError as error:
        return None, [(i.code, format_path(i.path), i.line) for i in error.issues]
    return read(spec), []


@pytest.mark.parametrize("field", sorted(FIELDS))
@SETTINGS
@given(value=VALUES)
def test_a_numeric_field_refuses_or_keeps_exactly(field: str, value: object) -> None:
    _place, path, _read, whole = FIELDS[field]
    kept, issues = _outcome(field, value)
    text_duration = not whole and isinstance(value, str) and field != "resources.cpu"
    if issues:
        assert [(code, where) for code, where, _line in issues] == [("spec.invalid_value", path)]
        assert all(line is not None for _code, _where, line in issues)  # located
        return
    assert not isinstance(value, bool), f"{field} took {value!r}"
    if whole:
        assert type(value) is int and kept == value, f"{field}: {value!r} became {kept!r}"
    elif not text_duration:  # a duration may be text (`30s`), a number never
        assert isinstance(value, int | float) and kept == value, f"{field}: {value!r}"


@pytest.mark.parametrize("field", sorted(FIELDS))
@pytest.mark.parametrize("value", [True, False])
def test_a_flag_is_never_a_number(field: str, value: bool) -> None:
    assert _outcome(field, value)[1] == [("spec.invalid_value", FIELDS[field][1], 1)]


@pytest.mark.parametrize("field", ["concurrency", "max_active_runs", "retries.max", "priority"])
def test_a_fraction_is_not_truncated(field: str) -> None:
    assert _outcome(field, 1.5)[1] == [("spec.invalid_value", FIELDS[field][1], 1)]


def test_yaml_flags_are_refused_at_their_line() -> None:
    text = "name: nums\nconcurrency: true\ntasks:\n  - {id: a, run: x, retries: {max: yes}}\n"
    with pytest.raises(SpecError) as caught:
        load_workflow(text, "nums.yaml")
    assert [(i.code, format_path(i.path), i.line) for i in caught.value.issues] == [
        ("spec.invalid_value", "concurrency", 2),
        ("spec.invalid_value", "tasks[0].retries.max", 4),
    ]


def test_a_template_input_bound_is_no_flag() -> None:
    from pydantic import ValidationError

    from basir.spec.templates import Template

    with pytest.raises(ValidationError, match="minimum"):
        Template.model_validate({"inputs": {"n": {"type": "number", "minimum": True}}})
    kept = Template.model_validate({"inputs": {"n": {"type": "number", "maximum": 2}}})
    assert kept.inputs["n"].maximum == 2
