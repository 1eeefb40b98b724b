"""Loading YAML and JSON text with a location for every key and item, and the input limits."""

from __future__ import annotations

import pytest

from basir.spec.errors import SpecError
from basir.spec.loader import MAX_SPEC_BYTES, parse_document


def error_of(text: str | bytes, filename: str = "w.yaml") -> SpecError:
    with pytest.raises(SpecError) as caught:
        parse_document(text, filename)
    return caught.value


def test_yaml_locations_of_keys_and_items() -> None:
    doc = parse_document("name: x\ntasks:\n  - id: a\n    needs: [b, c]\n  - id: b\n")
    assert doc.locations[("name",)] == (1, 1)
    assert doc.locations[("tasks",)] == (2, 1)
    assert doc.locations[("tasks", 0)] == (3, 5)
    assert doc.locations[("tasks", 0, "needs")] == (4, 5)
    assert doc.locations[("tasks", 0, "needs", 1)] == (4, 16)
    assert doc.locations[("tasks", 1, "id")] == (5, 5)


def test_locate_falls_back_to_the_nearest_ancestor() -> None:
    doc = parse_document("name: x\ntasks:\n  - id: a\n")
    assert doc.locate(("tasks", 0, "missing", 3)) == (3, 5)
    assert doc.locate(("nowhere",)) == (1, 1)


def test_yaml_1_2_core_types() -> None:
    doc = parse_document(
        "on: push\nno: yes\nn: 012\nx: 0x1F\nf: 1.5\nd: 2024-01-01\nz: ~\nt: True\ns: '7'\n"
    )
    assert doc.data == {
        "on": "push",
        "no": "yes",
        "n": 12,
        "x": 31,
        "f": 1.5,
        "d": "2024-01-01",
        "z": None,
        "t": True,
        "s": "7",
    }


def test_merge_keys_and_aliases() -> None:
    doc = parse_document("base: &b {a: 1, b: 2}\nuse: {<<: *b, b: 3}\nagain: *b\n")
    assert doc.data["use"] == {"a": 1, "b": 3}
    assert doc.data["again"] == {"a": 1, "b": 2}


def test_bom_is_dropped_and_bytes_are_decoded() -> None:
    doc = parse_document("\ufeffname: نقطة\n".encode())
    assert doc.data == {"name": "نقطة"}


def test_duplicate_yaml_keys_are_all_reported_with_place() -> None:
    err = error_of("name: x\ntasks: []\nname: y\nenv: {A: 1, A: 2}\n")
    assert [(i.code, i.line, i.col) for i in err.issues] == [
        ("spec.duplicate_key", 3, 1),
        ("spec.duplicate_key", 4, 13),
    ]
    assert "first at line 1" in err.issues[0].message
    assert (
        err.issues[0].format("w.yaml") == "w.yaml:3:1: name: duplicate key name (first at line 1)"
    )


def test_yaml_syntax_error_is_located() -> None:
    err = error_of("name: x\ntasks:\n  - id: a\n   run: x\n")
    (issue,) = err.issues
    assert (issue.code, issue.line, issue.col) == ("spec.yaml_syntax", 4, 4)


def test_tab_indentation_gets_a_clear_message() -> None:
    err = error_of("name: x\ntasks:\n\t- id: a\n")
    assert err.issues[0].code == "spec.yaml_syntax"
    assert err.issues[0].line == 3


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "spec.not_a_mapping"),
        ("- a\n- b\n", "spec.not_a_mapping"),
        ("a: !!binary aGVsbG8=\n", "spec.unsupported_value"),
        ("a: !custom x\n", "spec.unsupported_value"),
        ("a: !!set {x}\n", "spec.unsupported_value"),
        ("a: .inf\n", "spec.invalid_value"),
        ("[1]: x\n", "spec.invalid_value"),
        ("1: x\n", "spec.invalid_value"),
        ("a: *nothing\n", "spec.yaml_syntax"),
        ("a: 1\n---\nb: 2\n", "spec.yaml_syntax"),
        ("a: \x00\n", "spec.yaml_syntax"),
    ],
)
def test_unsupported_yaml_is_a_located_error(text: str, code: str) -> None:
    err = error_of(text)
    assert err.codes == [code]
    assert err.issues[0].line is not None


def test_size_limit_is_checked_before_parsing() -> None:
    text = "a: '" + "x" * MAX_SPEC_BYTES + "'\n"
    err = error_of(text)
    assert err.codes == ["spec.too_large"]
    assert err.issues[0].line is None


def test_nesting_limit_yaml_flow_and_block() -> None:
    flow = error_of("a: " + "[" * 65 + "]" * 65 + "\n")
    assert flow.codes == ["spec.too_deep"]
    assert (flow.issues[0].line, flow.issues[0].col) == (1, 68)
    block = "".join("  " * i + f"k{i}:\n" for i in range(70)) + "  " * 70 + "v: 1\n"
    assert error_of(block).codes == ["spec.too_deep"]
    # 64 levels of nesting are fine.
    parse_document("a: " + "[" * 63 + "]" * 63 + "\n")


def test_huge_flow_nesting_does_not_recurse() -> None:
    assert error_of("[" * 100_000).codes == ["spec.too_deep"]
    assert error_of("[" * 100_000, "w.json").codes == ["spec.too_deep"]


def test_alias_bomb_is_stopped() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 8):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    err = error_of("\n".join(lines) + "\n")
    assert err.codes == ["spec.too_large"]


def test_recursive_alias_is_too_deep() -> None:
    assert error_of("a: &a [*a]\n").codes == ["spec.too_deep"]


def test_bad_utf8_is_located() -> None:
    err = error_of(b"name: x\nd: \xff\xfe\n")
    assert [(i.code, i.line, i.col) for i in err.issues] == [("spec.bad_encoding", 2, 4)]


def test_json_locations() -> None:
    text = '{\n  "name": "x",\n  "tasks": [\n    {"id": "a", "needs": ["b", "c"]}\n  ]\n}'
    doc = parse_document(text, "w.json")
    assert doc.locations[("name",)] == (2, 3)
    assert doc.locations[("tasks", 0)] == (4, 5)
    assert doc.locations[("tasks", 0, "needs")] == (4, 17)
    assert doc.locations[("tasks", 0, "needs", 1)] == (4, 32)
    assert doc.data["tasks"][0]["needs"] == ["b", "c"]


def test_json_by_content_type() -> None:
    doc = parse_document('{"a": [1, {"b": null}]}', "body", content_type="application/json")
    assert doc.locations[("a", 1, "b")] == (1, 12)


def test_json_duplicates_syntax_and_non_finite() -> None:
    dup = error_of('{"a": 1,\n "a": 2}', "w.json")
    assert [(i.code, i.line, i.col) for i in dup.issues] == [("spec.duplicate_key", 2, 2)]
    bad = error_of('{"a": [1,\n  }', "w.json")
    assert [(i.code, i.line, i.col) for i in bad.issues] == [("spec.json_syntax", 2, 3)]
    inf = error_of('{"a": NaN, "b": 1e999}', "w.json")
    assert [(i.code, i.col) for i in inf.issues] == [
        ("spec.invalid_value", 7),
        ("spec.invalid_value", 17),
    ]


def test_json_nesting_limit_is_located() -> None:
    err = error_of('{"a": ' + "[" * 70 + "]" * 70 + "}", "w.json")
    assert [(i.code, i.line, i.col) for i in err.issues] == [("spec.too_deep", 1, 70)]
