"""The libyaml fast path gives exactly what ruamel.yaml (the reference) gives, or declines."""

from __future__ import annotations

import io
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from basir.spec.loader import MAX_NESTING_DEPTH, MAX_VALUES, parse_document
from basir.spec.yaml_fast import FastPathDeclinedError, load, resolve_plain
from basir.spec.yaml_source import load_yaml, load_yaml_reference

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LIMITS = {"max_depth": MAX_NESTING_DEPTH, "max_nodes": MAX_VALUES}

# Words whose type differs between YAML 1.1 and 1.2, or that look like numbers.
TRICKY = [
    "on", "off", "yes", "no", "y", "n", "Y", "N", "On", "OFF", "true", "False", "TRUE",
    "~", "null", "Null", "NULL", "0o17", "0x1F", "017", "1_000", "1e3", "1.5e-3", ".5", "+1",
    "-0", "0b101", "12:30", "2024-01-31", "2024-01-31 10:00:00", "1.", "<<", "=", "3.14",
    ".inf", "-.Inf", ".nan", "0x", "+", "-", "_", "1__0", "1:2:3", "0.1_0",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(TRICKY),
    st.text(max_size=10),
    st.text(alphabet="ab cd-:#'\"\né", max_size=60),
    st.text(alphabet="ab -:#'\"\n\r\t{}[],&*!|>%@`é٣\x85\u2028", max_size=8),
)
KEYS = st.sampled_from(["name", "tasks", "on", "yes", "no", "id", "needs", "y"]) | st.text(
    max_size=6
)
DATA = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(KEYS, children, max_size=4),
    ),
    max_leaves=25,
)


def _dump(data: Any, flow: bool, width: int = 80) -> str:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = flow
    yaml.width = width  # narrow: long text folds over several lines
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    return buffer.getvalue()


def _fast(text: str) -> tuple[Any, dict[Any, Any], list[Any]] | None:
    try:
        data, locations = load(text, **LIMITS)
    except FastPathDeclinedError:
        return None
    return data, locations, []


@SETTINGS
@given(data=DATA, flow=st.booleans(), width=st.integers(10, 80))
def test_generated_documents_load_identically(data: Any, flow: bool, width: int) -> None:
    text = _dump(data, flow, width)
    reference = load_yaml_reference(text, **LIMITS)
    fast = _fast(text)
    if fast is not None:
        assert fast == reference
    assert load_yaml(text, **LIMITS) == reference


@SETTINGS
@given(token=st.text(alphabet="0123456789+-._eExXoObB~nulNLtrufalsTRUFAyYon:<=iIf ", max_size=9))
def test_plain_scalars_resolve_as_yaml_1_2(token: str) -> None:
    text = f"key: {token}\nlist: [{token}]\n{token or 'k'}: 1\n"
    reference = load_yaml_reference(text, **LIMITS)
    fast = _fast(text)
    if fast is not None:
        assert fast == reference
    assert load_yaml(text, **LIMITS) == reference


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("on", "on"),
        ("off", "off"),
        ("yes", "yes"),
        ("no", "no"),
        ("y", "y"),
        ("n", "n"),
        ("~", None),
        ("null", None),
        ("Null", None),
        ("", None),
        ("true", True),
        ("FALSE", False),
        ("0o17", 15),
        ("0x1F", 31),
        ("1_000", 1000),
        ("+1", 1),
        ("-12", -12),
        ("1e3", 1000.0),
        ("2.5", 2.5),
        ("2024-01-31", "2024-01-31"),
        ("2024-01-31T10:00:00Z", "2024-01-31T10:00:00Z"),
        ("12:30", "12:30"),
    ],
)
def test_yaml_1_2_edge_cases_on_the_fast_path(text: str, expected: Any) -> None:
    document = f"value: {text}\n"
    fast = _fast(document)
    assert fast is not None, "a plain document stays on the fast path"
    assert fast[0] == {"value": expected}
    assert type(fast[0]["value"]) is type(expected)
    assert fast == load_yaml_reference(document, **LIMITS)


def test_on_stays_a_key() -> None:
    assert load("on:\n  push: {}\n", **LIMITS)[0] == {"on": {"push": {}}}


@pytest.mark.parametrize(
    "text",
    [
        "a: .inf\n",
        "a: -.Inf\n",
        "a: .nan\n",
        "a: 1\na: 2\n",  # duplicate key
        "base: &b {x: 1}\nother: *b\n",  # anchors and aliases
        "base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n",  # merge key
        "a: !!str 1\n",  # explicit tag
        "%YAML 1.1\n---\na: yes\n",  # a directive changes the rules
        "a: 1\n---\nb: 2\n",  # two documents
        "a: [1, 2\n",  # syntax error
        "1: x\n",  # non-text key
        "a: =\n",
        "a: 'x\x85y'\nb: 1\n",  # NEL is a line break in YAML 1.1 only
    ],
)
def test_the_fast_path_declines_and_the_reference_answers(text: str) -> None:
    with pytest.raises(FastPathDeclinedError):
        load(text, **LIMITS)
    assert load_yaml(text, **LIMITS) == load_yaml_reference(text, **LIMITS)


def test_anchors_aliases_and_merge_keys_still_work_through_the_reference() -> None:
    text = "base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\nlist: [*b]\n"
    data, _locations, issues = load_yaml(text, **LIMITS)
    assert issues == []
    assert data["other"] == {"x": 1, "y": 3}
    assert data["list"] == [{"x": 1, "y": 2}]


def test_duplicate_key_error_keeps_its_location() -> None:
    _data, _locations, issues = load_yaml("a: 1\nb:\n  c: 1\n  c: 2\n", **LIMITS)
    assert [(issue.code, issue.line, issue.col) for issue in issues] == [
        ("spec.duplicate_key", 4, 3)
    ]


def test_deep_nesting_declines_without_recursing() -> None:
    text = "[" * 200_000 + "]" * 200_000
    with pytest.raises(FastPathDeclinedError):
        load(text, **LIMITS)


def test_too_many_values_decline() -> None:
    with pytest.raises(FastPathDeclinedError):
        load("[" + "1," * 20 + "1]", max_depth=64, max_nodes=10)


def test_locations_of_a_big_plain_file_come_from_the_fast_path() -> None:
    lines = ["name: wide", "tasks:"]
    for index in range(2000):
        lines += [f"  - id: t{index}", "    uses: noop"]
    text = "\n".join(lines) + "\n"
    fast = _fast(text)
    assert fast is not None
    assert fast == load_yaml_reference(text, **LIMITS)
    document = parse_document(text, "wide.yaml")
    assert document.locate(("tasks", 1999, "uses")) == (4002, 5)


def test_resolve_plain_uses_the_core_schema() -> None:
    assert resolve_plain("yes") == "tag:yaml.org,2002:str"
    assert resolve_plain("0o17") == "tag:yaml.org,2002:int"
    assert resolve_plain("") == "tag:yaml.org,2002:null"


HAND_WRITTEN = [
    "# comment\nname: ci  # trailing\non:\n  push: {branches: [main]}\n",
    "run: |\n  echo one\n  echo two\n\nnext: >-\n  folded\n  text\n",
    "plain: a multi\n  line plain\n  scalar\nq: 'it''s'\nd: \"tab\\tend\"\n",
    "tasks:\n- id: a\n  needs: []\n-   id: b\n    needs:\n    - a\n",
    "flow: {a: 1, b: [x, y, {c: d}], 'e f': ~}\nempty:\nlast: -1\n",
    "crlf: 1\r\nnext:\r\n  - x\r\n",
    "---\nexplicit: start\n...\n",
    "? complex key\n: value\n",
    "k: 'multi\n\n  line'\nn: 2\n",
    "ar: مرحبا\nemoji: 🎉\nkey with spaces: v\n",
]


@pytest.mark.parametrize("text", HAND_WRITTEN)
def test_hand_written_styles_load_identically(text: str) -> None:
    reference = load_yaml_reference(text, **LIMITS)
    assert reference[2] == []
    assert _fast(text) == reference


def test_without_libyaml_the_reference_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "basir.spec.yaml_fast", None)  # import fails
    text = "name: ci\non: {push: {}}\n"
    assert load_yaml(text, **LIMITS) == load_yaml_reference(text, **LIMITS)
    assert load_yaml(text, **LIMITS)[0] == {"name": "ci", "on": {"push": {}}}
