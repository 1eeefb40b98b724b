"""The sandboxed `${{ … }}` language: syntax, semantics, rendering, shell safety and budgets."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any

import pytest

from basir.spec.expressions import (
    ExpressionError,
    evaluate,
    evaluate_condition,
    evaluate_foreach,
    find_expressions,
    parse,
    referenced_keys,
    referenced_roots,
    referenced_tasks,
    render,
    render_run,
)

CONTEXT: dict[str, Any] = {
    "params": {"branch": "main", "n": 7, "flags": ["-v", "--fast"], "empty": ""},
    "tasks": {"pub-get": {"status": "succeeded", "outputs": {"lock": "abc", "count": "3"}}},
    "run": {"id": "r1", "workflow": "ci", "version": 2},
    "item": {"name": "x"},
    "index": 0,
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("7 / 2", 3.5),
        ("6 / 2", 3),
        ("7 % 3", 1),
        ("-2.5 * 2", -5.0),
        ("0x10", 16),
        ("1e3", 1000.0),
        ("'it''s'", "it's"),
        ('"a\\nb"', "a\nb"),
        ("'a' + 'b'", "ab"),
        ("[1, 2] + [3]", [1, 2, 3]),
        ("{a: 1, 'b c': [true, null]}", {"a": 1, "b c": [True, None]}),
        ("params.branch == 'main'", True),
        ("params.branch != 'main'", False),
        ("1 == 1.0", True),
        ("true == 1", False),
        ("[1, {a: true}] == [1.0, {a: true}]", True),
        ("2 < 3 and 'a' <= 'b'", True),
        ("null || 'fallback'", "fallback"),
        ("'' or 0 or 'x'", "x"),
        ("1 && 0", 0),
        ("!true || not false", True),
        ("not 1 in [1, 2]", False),
        ("3 not in [1, 2]", True),
        ("'ai' in 'main'", True),
        ("'lock' in tasks.pub-get.outputs", True),
        ("tasks.pub-get.outputs.lock", "abc"),
        ("tasks['pub-get'].outputs['count']", "3"),
        ("tasks.pub-get.outputs.missing.deeper", None),
        ("nothing.at.all", None),
        ("params.flags[1]", "--fast"),
        ("params.flags[-1]", "--fast"),
        ("params.flags[9]", None),
        ("params.flags.length", None),
        ("'yes' if params.n > 5 else 'no'", "yes"),
        ("item.name", "x"),
        ("params.n - 2", 5),
        ("run.version + 1", 3),
    ],
)
def test_evaluate(source: str, expected: Any) -> None:
    assert evaluate(source, CONTEXT) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("len('abc')", 3),
        ("len(params.flags)", 2),
        ("contains(params.flags, '-v')", True),
        ("contains('Hello', 'ell')", True),
        ("startswith(params.branch, 'ma')", True),
        ("endswith(params.branch, 'in')", True),
        ("lower('ÄB')", "äb"),
        ("upper('ab')", "AB"),
        ("join(params.flags, ' ')", "-v --fast"),
        ("join([1, true, null])", "1,true,"),
        ("split('a,b,,c', ',')", ["a", "b", "", "c"]),
        ("split('a b  c')", ["a", "b", "c"]),
        ("format('{0}-{1}-{0} {{x}}', 'a', 2)", "a-2-a {x}"),
        ("toJSON({a: [1, 'ب']})", '{"a":[1,"ب"]}'),
        ("to_json(1.0)", "1.0"),
        ("fromJSON('{\"a\": [1, 2]}').a[1]", 2),
        ("from_json(tasks.pub-get.outputs.count) + 1", 4),
        ("int('42') + int(2.9) + int(true)", 45),
        ("float('1.5')", 1.5),
        ("str(1.0) + str(null) + str(false) + str([1])", "1false[1]"),
        ("bool('') or bool([0])", True),
        ("range(3)", [0, 1, 2]),
        ("range(5, 0, -2)", [5, 3, 1]),
        ("min(3, 1, 2)", 1),
        ("max(['b', 'a'])", "b"),
        ("min([])", None),
        ("sum([1, 2.5])", 3.5),
        ("default(params.nope, 'd')", "d"),
        ("default(params.empty, 'd')", ""),
    ],
)
def test_functions(source: str, expected: Any) -> None:
    assert evaluate(source, CONTEXT) == expected


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("1 +", "expr.syntax"),
        ("(1", "expr.syntax"),
        ("a b", "expr.syntax"),
        ("1 < 2 < 3", "expr.syntax"),
        ("'unterminated", "expr.syntax"),
        ("a @ b", "expr.syntax"),
        ("", "expr.syntax"),
        ("and", "expr.syntax"),
        ("{1: 2}", "expr.syntax"),
        ("eval('1')", "expr.unknown_function"),
        ("params.__class__()", "expr.syntax"),
        ("len()", "expr.bad_argument"),
        ("len(1, 2)", "expr.bad_argument"),
        ("1 + 'a'", "expr.type"),
        ("'a' < 1", "expr.type"),
        ("-'a'", "expr.type"),
        ("1 in 2", "expr.type"),
        ("1 / 0", "expr.division_by_zero"),
        ("5 % 0", "expr.division_by_zero"),
        ("int('x')", "expr.type"),
        ("float('nan')", "expr.type"),
        ("from_json('NaN')", "expr.type"),
        ("from_json('[1,')", "expr.type"),
        ("format('{1}', 1)", "expr.type"),
        ("format('{', 1)", "expr.type"),
        ("split('a', '')", "expr.type"),
        ("range(0, 1, 0)", "expr.type"),
        ("sum(['a'])", "expr.type"),
        ("min(1, 'a')", "expr.type"),
        ("hash_files('*.lock')", "expr.unavailable"),
        ("1e308 * 10", "expr.type"),
        ("9223372036854775807 + 1", "expr.type"),
    ],
)
def test_errors_are_expression_errors(source: str, code: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate(source, CONTEXT)
    assert caught.value.code == code
    assert caught.value.message


def test_no_python_internals_are_reachable() -> None:
    assert evaluate("params.__class__", CONTEXT) is None
    assert evaluate("params['__class__']", CONTEXT) is None
    assert evaluate("'abc'.upper", CONTEXT) is None
    with pytest.raises(ExpressionError):
        evaluate("format('{0.__class__}', 1)", {})


def test_parse_is_cached_and_accepts_braces() -> None:
    assert parse("a.b") is parse("a.b")
    assert evaluate("${{ 1 + 1 }}", {}) == 2


def test_names_with_hyphens_and_digits() -> None:
    assert evaluate("a-b", {"a-b": 1, "a": 5, "b": 2}) == 1
    assert evaluate("a - b", {"a-b": 1, "a": 5, "b": 2}) == 3
    assert evaluate("tasks.1st.outputs", {"tasks": {"1st": {"outputs": 9}}}) == 9


def test_find_expressions() -> None:
    assert find_expressions("a ${{ x }} b ${{y}}") == ["x", "y"]
    assert find_expressions("${{ {a: {b: 1}} }}") == ["{a: {b: 1}}"]
    assert find_expressions("${{ '}}' }}") == ["'}}'"]
    assert find_expressions("no expressions, {{ x }} $x") == []
    with pytest.raises(ExpressionError):
        find_expressions("${{ x ")


def test_render_keeps_type_for_a_lone_expression() -> None:
    value = {"n": "${{ params.n }}", "list": ["${{ params.flags }}", "x-${{ params.n }}"], 3: True}
    assert render(value, CONTEXT) == {"n": 7, "list": [["-v", "--fast"], "x-7"], 3: True}


def test_render_text_forms() -> None:
    text = "${{ null }}|${{ true }}|${{ 1.0 }}|${{ params.flags }}|${{ {a: 1} }}"
    assert render(text, CONTEXT) == '|true|1|["-v","--fast"]|{"a":1}'
    assert render("no expression", CONTEXT) == "no expression"


def test_render_run_keeps_values_out_of_the_script() -> None:
    ref = '${BASIR_EXPR_0+"$BASIR_EXPR_0"}'
    assert render_run("echo ${{ params.branch }}", CONTEXT) == (
        f"echo {ref}",
        {"BASIR_EXPR_0": "main"},
    )
    assert render_run('echo "n=${{ params.n }}"', CONTEXT) == (
        'echo "n=${BASIR_EXPR_0}"',
        {"BASIR_EXPR_0": "7"},
    )
    assert render_run("tool ${{ null }}", CONTEXT) == (f"tool {ref}", {})  # no word at all
    assert render_run("tool ${{ '' }}", CONTEXT) == (f"tool {ref}", {"BASIR_EXPR_0": ""})
    assert render_run("no expression", CONTEXT) == ("no expression", {})


def test_render_run_refuses_unsafe_places() -> None:
    for script in ("echo '${{ params.n }}'", "echo $(( ${{ params.branch }} ))", "# ${{ 1 }}"):
        with pytest.raises(ExpressionError) as caught:
            render_run(script, CONTEXT)
        assert caught.value.code == "expr.placement"
    assert render_run("echo $(( ${{ params.n }} + 1 ))", CONTEXT)[1] == {"BASIR_EXPR_0": "7"}
    with pytest.raises(ExpressionError) as caught:
        render_run("print(${{ 1 }})", CONTEXT, shell="python3")
    assert caught.value.code == "expr.placement"


@pytest.mark.parametrize(
    "payload",
    [
        "$(touch {marker}); rm -rf ~",
        "`touch {marker}`",
        "'; touch {marker}; '",
        '"; touch {marker}; "',
        "x\ntouch {marker}",
        "&& touch {marker} ||",
        "$(printf 'touch {marker}' | sh)",
    ],
)
def test_a_parameter_cannot_inject_shell_code(tmp_path: Path, payload: str) -> None:
    marker = tmp_path / "pwned"
    value = payload.format(marker=marker)
    command, values = render_run("printf '%s\\n' ${{ params.evil }}", {"params": {"evil": value}})
    result = subprocess.run(
        ["/bin/sh", "-c", command],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", **values},
    )
    assert not marker.exists()
    assert result.stdout == value + "\n"  # one word, printed verbatim


def test_condition_and_foreach() -> None:
    assert evaluate_condition(None, CONTEXT) is True
    assert evaluate_condition(False, CONTEXT) is False
    assert evaluate_condition("${{ params.branch == 'main' }}", CONTEXT) is True
    assert evaluate_condition("params.n < 3", CONTEXT) is False
    assert evaluate_foreach("${{ params.flags }}", CONTEXT) == ["-v", "--fast"]
    assert evaluate_foreach("${{ toJSON(range(3)) }}", CONTEXT) == [0, 1, 2]
    assert evaluate_foreach(["${{ params.n }}", 2], CONTEXT) == [7, 2]
    with pytest.raises(ExpressionError):
        evaluate_foreach("${{ params.n }}", CONTEXT)
    with pytest.raises(ExpressionError):
        evaluate_foreach("not json", CONTEXT)


def test_references() -> None:
    source = "tasks.a.outputs.x + tasks['b-c'].status + params.p + params[x] + f(y)"
    with pytest.raises(ExpressionError):
        parse(source)
    source = "tasks.a.outputs.x + tasks['b-c'].status + params.p + params[x] + len(y)"
    assert referenced_roots(source) == {"tasks", "params", "x", "y"}
    assert referenced_tasks(source) == {"a", "b-c"}
    assert referenced_keys(source, "params") == {"p"}


def test_length_and_node_budgets() -> None:
    with pytest.raises(ExpressionError) as caught:
        parse("1" + " + 1" * 2000)
    assert caught.value.code == "expr.too_long"
    with pytest.raises(ExpressionError) as caught:
        parse("[" + ",".join(["1"] * 1001) + "]")
    assert caught.value.code == "expr.too_complex"
    with pytest.raises(ExpressionError) as caught:
        parse("(" * 1000 + "1" + ")" * 1000)
    assert caught.value.code == "expr.too_complex"
    with pytest.raises(ExpressionError) as caught:
        parse("!" * 2000 + "1")
    assert caught.value.code == "expr.too_complex"


def test_step_and_size_budgets() -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate("range(100001)", {})
    assert caught.value.code == "expr.too_large"
    big = {"xs": list(range(60_000))}
    with pytest.raises(ExpressionError) as caught:
        evaluate("xs + xs", big)
    assert caught.value.code == "expr.too_large"
    with pytest.raises(ExpressionError) as caught:
        evaluate("len(join(range(99999), '" + "x" * 20 + "'))", {})
    assert caught.value.code == "expr.too_large"
    steps = " or ".join(["contains(range(60000), -1)"] * 2)
    with pytest.raises(ExpressionError) as caught:
        evaluate(steps, {})
    assert caught.value.code == "expr.budget"
    with pytest.raises(ExpressionError) as caught:
        evaluate("xs == ys and ys == xs", {"xs": [0] * 60_000, "ys": [0] * 60_000})
    assert caught.value.code == "expr.budget"


def test_deep_context_values_do_not_crash() -> None:
    deep: Any = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(ExpressionError):
        evaluate("to_json(v)", {"v": deep})
    with pytest.raises(ExpressionError):
        evaluate("v == w", {"v": deep, "w": deep})


def test_hash_files(tmp_path: Path) -> None:
    (tmp_path / "pubspec.lock").write_text("lock")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.dart").write_text("a")
    (tmp_path / "sub" / "b.dart").write_text("b")
    one = evaluate("hash_files('pubspec.lock')", {}, files_root=tmp_path)
    expected = hashlib.sha256(b"pubspec.lock\0" + hashlib.sha256(b"lock").digest()).hexdigest()
    assert one == expected
    both = evaluate("hash_files('**/*.dart')", {}, files_root=tmp_path)
    only_a = evaluate("hash_files('**/*.dart', '!sub/b.dart')", {}, files_root=tmp_path)
    assert len(both) == 64 and both != only_a
    assert evaluate("hash_files('nothing*')", {}, files_root=tmp_path) == ""
    (tmp_path / "sub" / "a.dart").write_text("changed")
    assert evaluate("hash_files('**/*.dart')", {}, files_root=tmp_path) != both


def test_hash_files_stays_inside_its_root(tmp_path: Path) -> None:
    root = tmp_path / "work"
    root.mkdir()
    (tmp_path / "secret").write_text("s")
    (root / "link").symlink_to(tmp_path / "secret")
    for pattern in ("../secret", "/etc/passwd"):
        with pytest.raises(ExpressionError):
            evaluate(f"hash_files('{pattern}')", {}, files_root=root)
    assert evaluate("hash_files('link')", {}, files_root=root) == ""


def test_every_whitelisted_function_has_an_arity_and_an_implementation() -> None:
    from basir.spec.expr_functions import FUNCTIONS
    from basir.spec.expr_syntax import FUNCTION_ARITY

    assert FUNCTIONS.keys() == FUNCTION_ARITY.keys()
