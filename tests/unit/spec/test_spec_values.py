"""Run parameters: type checks, text coercion from the command line, defaults."""

from __future__ import annotations

import pytest

from basir.spec.errors import SpecError
from basir.spec.models import Param
from basir.spec.values import InputDecl, check_value, resolve_params

DECLARED = {
    "branch": Param(type="string", default="main"),
    "count": Param(type="integer", required=True),
    "ratio": Param(type="number", default=0.5),
    "debug": Param(type="boolean", default=False),
    "targets": Param(type="array", default=[]),
    "mode": Param(enum=["fast", "slow"], default="fast"),
}


def test_defaults_are_filled() -> None:
    assert resolve_params(DECLARED, {"count": 2}) == {
        "count": 2,
        "branch": "main",
        "ratio": 0.5,
        "debug": False,
        "targets": [],
        "mode": "fast",
    }


def test_text_values_are_coerced() -> None:
    given = {"count": "3", "ratio": "2", "debug": "yes", "targets": '["apk"]'}
    resolved = resolve_params(DECLARED, given, from_text=True)
    assert resolved["count"] == 3
    assert resolved["ratio"] == 2
    assert resolved["debug"] is True
    assert resolved["targets"] == ["apk"]


def test_every_problem_is_reported() -> None:
    given = {"count": "x", "brnch": "dev", "mode": "medium", "debug": "maybe"}
    with pytest.raises(SpecError) as caught:
        resolve_params({**DECLARED, "need": Param(required=True)}, given, from_text=True)
    found = {issue.path[-1]: issue.message for issue in caught.value.issues}
    assert set(found) == {"count", "brnch", "mode", "debug", "need"}
    assert found["brnch"] == "unknown parameter brnch (did you mean branch?)"
    assert found["mode"] == "must be one of: fast, slow"
    assert set(caught.value.codes) == {"spec.bad_param"}


def test_check_value_types_and_bounds() -> None:
    assert check_value(Param(type="integer"), True) == "must be a whole number"
    assert check_value(Param(type="number"), 1) is None
    assert check_value(InputDecl(type="number", minimum=0, maximum=10), 11) == "must be at most 10"
    assert check_value(InputDecl(type="any"), {"x": 1}) is None
