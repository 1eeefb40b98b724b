"""Property tests: hostile or random input never crashes the loader or the expression engine."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from basir.spec import SpecError, load_workflow
from basir.spec.expressions import ExpressionError, evaluate, render_run

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
UNLOCATED_CODES = {"spec.too_large", "spec.too_many_issues", "spec.yaml_syntax", "spec.json_syntax"}

KEYS = st.sampled_from(
    [
        "name", "tasks", "id", "run", "needs", "uses", "with", "if", "when", "env", "params",
        "on", "retries", "timeout", "resources", "http", "url", "json", "foreach", "max",
        "cpu", "memory", "pools", "python", "target", "message", "seconds", "type", "default",
    ]
)  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["a", "b", "x", "main", "5m", "2Gi", "noop", "flutter/build", "${{ 1 + }}"]),
    st.sampled_from(["${{ params.a }}", "${{ tasks.a.outputs.x }}", "${{ item }}", "on_failure"]),
    st.text(max_size=12),
)
DATA = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(KEYS | st.text(max_size=6), children, max_size=5),
    ),
    max_leaves=30,
)
WORKFLOWS = st.fixed_dictionaries(
    {"name": st.sampled_from(["ci", "Bad Name", 5]), "tasks": st.lists(DATA, max_size=5)},
    optional={"params": DATA, "env": DATA, "on": DATA, "defaults": DATA},
)


def _yaml_text(data: Any) -> str:
    yaml = YAML(typ="safe", pure=True)
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    return buffer.getvalue()


def _check(text: str, filename: str, located: bool) -> None:
    try:
        load_workflow(text, filename)
    except SpecError as exc:
        assert exc.issues
        for issue in exc.issues:
            assert issue.code.startswith("spec.") and issue.message
            if located and issue.code not in UNLOCATED_CODES:
                assert issue.line is not None and issue.col is not None, issue


@SETTINGS
@given(st.text(max_size=300))
def test_random_text_never_crashes_the_loader(text: str) -> None:
    _check(text, "random.yaml", located=False)
    _check(text, "random.json", located=False)


@SETTINGS
@given(
    st.lists(
        st.sampled_from(
            [
                "name: x\n",
                "tasks:\n",
                "  - ",
                "id: a\n",
                "{",
                "}",
                "[",
                "]",
                ": ",
                "- ",
                "&a ",
                "*a ",
                "<<: ",
                "!!str ",
                "'",
                '"',
                "\t",
                "#",
                "---\n",
                "    ",
                "run: ${{ x }}\n",
                "needs: [a]\n",
            ]
        ),
        max_size=40,
    )
)
def test_yaml_fragments_never_crash_the_loader(parts: list[str]) -> None:
    _check("".join(parts), "fragments.yaml", located=False)


@settings(SETTINGS, max_examples=60)
@given(WORKFLOWS)
def test_structured_documents_validate_or_fail_with_located_issues(data: dict[str, Any]) -> None:
    _check(_yaml_text(data), "doc.yaml", located=True)
    _check(json.dumps(data), "doc.json", located=True)


TOKENS = st.sampled_from(
    [
        "1", "2.5", "0x1f", "'s'", '"d"', "true", "null", "a", "a.b", "tasks.x-y.outputs", "[",
        "]", "(", ")", "{", "}", ",", ":", ".", "==", "!=", "<", ">=", "+", "-", "*", "/", "%",
        "!", "&&", "||", "and", "or", "not", "in", "if", "else", "len(", "format(", "range(",
        "from_json(", "to_json(", "split(", "join(", "int(", "min(", "contains(", "default(",
    ]
)  # fmt: skip
CONTEXT = {"a": {"b": [1, "x", None]}, "tasks": {"x-y": {"outputs": {"k": "v"}}}}


@SETTINGS
@given(st.lists(TOKENS, max_size=25))
def test_random_token_streams_only_raise_expression_errors(tokens: list[str]) -> None:
    try:
        evaluate(" ".join(tokens), CONTEXT)
    except ExpressionError as exc:
        assert exc.code.startswith("expr.") and exc.message


@SETTINGS
@given(st.text(max_size=80))
def test_random_characters_only_raise_expression_errors(text: str) -> None:
    try:
        render_run(f"x ${{{{ {text} }}}} ${{{{", CONTEXT)
    except ExpressionError as exc:
        assert exc.code.startswith("expr.")
    try:
        evaluate(text, CONTEXT)
    except ExpressionError as exc:
        assert exc.code.startswith("expr.")


@pytest.fixture(scope="module")
def files_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("files")
    (root / "a.lock").write_text("a")
    (root / "sub").mkdir()
    (root / "sub" / "b.dart").write_text("b")
    return root


PATTERN_PARTS = st.sampled_from(["*", "**", ".", "..", "/", "a", "sub", "[", "]", "!", "?", "\\"])


@settings(SETTINGS, max_examples=100)
@given(patterns=st.lists(st.lists(PATTERN_PARTS, max_size=6).map("".join), min_size=1, max_size=3))
def test_hash_files_patterns_only_raise_expression_errors(
    files_root: Path, patterns: list[str]
) -> None:
    try:
        result = evaluate(
            "hash_files(*p)".replace("*p", ", ".join(json.dumps(p) for p in patterns)),
            {},
            files_root=files_root,
        )
    except ExpressionError as exc:
        assert exc.code.startswith("expr.")
    else:
        assert isinstance(result, str)
