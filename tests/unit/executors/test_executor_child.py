"""The child side of isolated python tasks, called in-process here (no pool needed)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import pytest

from basir.executors.base import TaskContext, current_task
from basir.executors.child import bind, call_in_child, describe, resolve, to_json

MakeCtx = Callable[..., TaskContext]


def test_resolve_dotted_function() -> None:
    assert resolve("sample_funcs:Greeter.hello")("x") == "hi x"


@pytest.mark.parametrize(
    ("ref", "error"),
    [("sample_funcs", ValueError), (":f", ValueError), ("sample_funcs:NOT_CALLABLE", TypeError)],
)
def test_resolve_errors(ref: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        resolve(ref)


def test_bind() -> None:
    def echo(*args: object, **kwargs: object) -> object:
        return args, kwargs

    assert bind(echo, None)() == ((), {})
    assert bind(echo, [1, 2])() == ((1, 2), {})
    assert bind(echo, {"a": 1})() == ((), {"a": 1})
    with pytest.raises(TypeError):
        bind(echo, "x")


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, {}), ({"a": 1}, {"a": 1}), (3, {"result": 3}), ("ب", {"result": "ب"})],
)
def test_to_json(value: object, expected: object) -> None:
    assert json.loads(to_json(value)) == expected


def test_to_json_keeps_unicode_readable() -> None:
    assert to_json("ب") == '{"result": "ب"}'


def test_describe() -> None:
    assert describe(ValueError("x")) == "ValueError: x"
    assert describe(KeyboardInterrupt()) == "KeyboardInterrupt"


def test_call_ok_sets_and_restores_env_and_context(
    make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EXTRA", raising=False)
    result = call_in_child("sample_funcs:context_info", None, make_ctx(env={"EXTRA": "e"}))
    assert result.outputs_json is not None
    outputs = json.loads(result.outputs_json)
    assert (outputs["env_run_id"], outputs["env_extra"]) == ("run-1", "e")
    assert "EXTRA" not in os.environ
    assert current_task() is None


def test_call_async(make_ctx: MakeCtx) -> None:
    result = call_in_child("sample_funcs:async_add", [1, 2], make_ctx())
    assert result.outputs_json == '{"sum": 3}'


def test_call_exception(make_ctx: MakeCtx) -> None:
    result = call_in_child("sample_funcs:boom", ["no"], make_ctx())
    assert result.error == "ValueError: no"
    assert result.traceback is not None and "Traceback" in result.traceback


def test_call_system_exit(make_ctx: MakeCtx) -> None:
    assert call_in_child("sample_funcs:exit_now", None, make_ctx()).error == "SystemExit: 4"


def test_call_task_failure_keeps_outputs(make_ctx: MakeCtx) -> None:
    result = call_in_child("sample_funcs:fail_with_outputs", None, make_ctx())
    assert (result.error, result.outputs_json) == ("custom failure", '{"partial": 1}')


def test_call_bad_result(make_ctx: MakeCtx) -> None:
    result = call_in_child("sample_funcs:not_json", None, make_ctx())
    assert result.bad_result is not None and result.outputs_json is None


def test_call_load_error(make_ctx: MakeCtx) -> None:
    result = call_in_child("no_such_module_xyz:f", None, make_ctx())
    assert result.error is not None and result.error.startswith("ModuleNotFoundError")
