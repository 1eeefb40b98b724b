"""Expression budgets hold while a value is built: an oversized result fails before it exists."""

from __future__ import annotations

import random
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from basir.spec.expr_size import MAX_VALUE_DEPTH, text_length
from basir.spec.expr_values import Budget, to_json, to_str
from basir.spec.expressions import ExpressionError, evaluate, render, render_run

PEAK_LIMIT_BYTES = 8 * 1024 * 1024  # the results below would need hundreds of MB
BIG = list(range(20_000))  # ~110 KB as JSON: ten of them are over the 1 MiB text limit
CONTEXT: dict[str, Any] = {"params": {"big": BIG, "text": "x" * 300_000}}
BIGS = "[" + ", ".join(["params.big"] * 10) + "]"


@pytest.fixture
def peak() -> Iterator[Callable[[], int]]:
    """The peak of memory allocated since the test started tracing (bytes)."""
    tracemalloc.start()
    try:
        yield lambda: tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _fails(call: Callable[[], object], code: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        call()
    assert caught.value.code == code, caught.value.message
    assert caught.value.message


@pytest.mark.parametrize(
    "expression",
    [
        "len(join(range(2000), join(range(20000), ',')))",
        "format('" + "{0}" * 200 + "', params.text)",
        "params.text + params.text + params.text + params.text",
        f"to_json({BIGS})",
        f"str({BIGS})",
        f"join({BIGS}, '')",
        "join(params.big, params.text)",
        f"format('{{0}}{{0}}', {BIGS})",
    ],
)
def test_an_oversized_text_fails_before_it_is_built(
    expression: str, peak: Callable[[], int]
) -> None:
    _fails(lambda: evaluate(expression, CONTEXT), "expr.too_large")
    assert peak() < PEAK_LIMIT_BYTES


def test_substitution_into_text_is_bounded_while_it_is_built(peak: Callable[[], int]) -> None:
    template = "x ${{ params.text }} " * 50
    _fails(lambda: render(template, CONTEXT), "expr.too_large")
    _fails(lambda: render("x ${{ params.big }}" * 10, CONTEXT), "expr.too_large")
    _fails(lambda: render_run("echo ${{ " + BIGS + " }}", CONTEXT), "expr.too_large")
    assert peak() < PEAK_LIMIT_BYTES


def test_list_concatenation_is_bounded_before_it_is_built() -> None:
    context = {"params": {"big": list(range(60_000))}}
    _fails(lambda: evaluate("params.big + params.big", context), "expr.too_large")


def test_values_may_not_nest_too_deeply() -> None:
    deep: list[Any] = []
    inner = deep
    for _ in range(500):  # context data deeper than any expression may produce
        inner.append([])
        inner = inner[0]
    _fails(lambda: evaluate("to_json(params.deep)", {"params": {"deep": deep}}), "expr.too_complex")
    _fails(lambda: render("x ${{ params.deep }}", {"params": {"deep": deep}}), "expr.too_complex")
    text = "[" * (MAX_VALUE_DEPTH + 1) + "]" * (MAX_VALUE_DEPTH + 1)
    _fails(lambda: evaluate(f"from_json('{text}')", {}), "expr.too_complex")
    fine = "[" * MAX_VALUE_DEPTH + "]" * MAX_VALUE_DEPTH
    assert evaluate(f"len(to_json(from_json('{fine}')))", {}) == 2 * MAX_VALUE_DEPTH


def test_values_within_the_limits_are_built_exactly() -> None:
    assert evaluate("join(range(3), ', ')", {}) == "0, 1, 2"
    assert evaluate("format('{0}-{1}-{0}', 'a', [1, {b: null}])", {}) == 'a-[1,{"b":null}]-a'
    assert evaluate("to_json({a: ['é\"\\n', true, 1.5]})", {}) == '{"a":["é\\"\\n",true,1.5]}'
    assert len(evaluate("join(params.big, ',')", CONTEXT)) == len(",".join(map(str, BIG)))


def test_conversion_errors_do_not_print_big_values(peak: Callable[[], int]) -> None:
    _fails(lambda: evaluate("int(params.big)", CONTEXT), "expr.type")
    assert peak() < PEAK_LIMIT_BYTES


def test_measured_lengths_are_exact() -> None:
    rng = random.Random(7)
    choices: list[Any] = [1, -2.5, 1.0, 1e300, True, False, None, 'a"b', "é", "\x01", "\u2028"]
    choices += [{"k": [1, "x"], 'é"': 1.0}, [], {}, [[3]], 12345678901234, "مرحبا"]
    for _ in range(200):
        value = [rng.choice(choices) for _ in range(rng.randint(0, 1200))]
        assert text_length(value, Budget(10**9), 10**9, quoted=True) == len(to_json(value))
        assert text_length(value, Budget(10**9), 10**9) == len(to_str(value))
    for scalar in choices:
        assert text_length(scalar, Budget(10**9), 10**9) == len(to_str(scalar))
