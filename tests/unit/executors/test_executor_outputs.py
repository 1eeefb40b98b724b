"""The `$BASIR_OUTPUT` file format: key=value lines and heredocs."""

from __future__ import annotations

from pathlib import Path

import pytest

from basir.executors.outputs import OutputsError, parse_outputs, read_outputs


def test_key_value_lines() -> None:
    assert parse_outputs("a=1\nb=two words\n") == {"a": "1", "b": "two words"}


def test_value_keeps_later_equals_and_empty_values() -> None:
    assert parse_outputs("url=http://x/?a=b\nempty=\n") == {"url": "http://x/?a=b", "empty": ""}


def test_later_line_wins_and_blank_lines_are_ignored() -> None:
    assert parse_outputs("a=1\n\n   \na=2") == {"a": "2"}


def test_heredoc_multi_line_value() -> None:
    text = "notes<<EOF\nline 1\nline 2\n\nline 4\nEOF\nafter=x\n"
    assert parse_outputs(text) == {"notes": "line 1\nline 2\n\nline 4", "after": "x"}


def test_heredoc_may_contain_equals_and_carriage_returns() -> None:
    text = "cfg<<END\r\nk=v\r\nEND\r\n"
    assert parse_outputs(text) == {"cfg": "k=v"}


def test_equals_before_heredoc_marker_is_a_plain_value() -> None:
    assert parse_outputs("a=b<<c\n") == {"a": "b<<c"}


def test_empty_heredoc() -> None:
    assert parse_outputs("x<<E\nE\n") == {"x": ""}


def test_unicode_values() -> None:
    assert parse_outputs("msg=مرحبا\n") == {"msg": "مرحبا"}


@pytest.mark.parametrize(
    "text",
    [
        "1abc=x",
        "has space=x",
        "dot.key=x",
        f"{'k' * 65}=x",
        "=value",
        "just text",
        "k<<\nvalue\n",
        "k<<END\nno end\n",
        "bad key<<E\nx\nE",
    ],
)
def test_malformed_lines_are_errors(text: str) -> None:
    with pytest.raises(OutputsError, match="line"):
        parse_outputs(text)


def test_longest_allowed_key() -> None:
    key = "k" * 64
    assert parse_outputs(f"{key}=1") == {key: "1"}


def test_error_names_the_line() -> None:
    with pytest.raises(OutputsError, match="line 3"):
        parse_outputs("a=1\nb=2\noops\n")


def test_read_missing_file_means_no_outputs(tmp_path: Path) -> None:
    assert read_outputs(tmp_path / "missing", 100) == {}


def test_read_too_large(tmp_path: Path) -> None:
    path = tmp_path / "out"
    path.write_text("a=" + "x" * 200)
    with pytest.raises(OutputsError, match="limit of 100 bytes"):
        read_outputs(path, 100)


def test_read_at_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "out"
    path.write_text("a=" + "x" * 98)
    assert read_outputs(path, 100) == {"a": "x" * 98}
