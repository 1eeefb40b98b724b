"""Task and run errors kept as messages: their stored form, its detail, its bounds."""

from __future__ import annotations

import json

from basir.executors.base import TaskFailure
from basir.i18n.deferred import (
    DETAIL_MAX_CHARS,
    PARAM_MAX_CHARS,
    labelled,
    lazy,
    message_key,
    render_in,
    render_message,
    split_error,
    stored_error,
)
from basir.monitoring.report import reason_of, shown_reason

EXITED = lazy("exited with code {code}", code=3)


def test_an_error_reads_in_each_language_with_its_output_lines_verbatim() -> None:
    detail = "Traceback: {code} not a placeholder\nValueError: é"
    stored = stored_error(EXITED, detail)
    assert json.loads(stored) == {"m": "exited with code {code}", "p": {"code": 3}, "d": detail}
    assert render_in("en", stored) == f"exited with code 3\n{detail}"
    assert render_in("ar", stored) == f"انتهى برمز الخروج 3\n{detail}"
    head, kept = split_error(stored)
    assert head == EXITED and kept == detail


def test_an_error_without_detail_is_the_message_alone() -> None:
    stored = stored_error(EXITED)
    assert json.loads(stored) == {"m": "exited with code {code}", "p": {"code": 3}}
    assert render_in("ar", stored) == "انتهى برمز الخروج 3"
    assert split_error(stored) == (EXITED, None)


def test_plain_text_is_kept_and_shown_as_it_was() -> None:
    assert stored_error("ValueError: bad", "line") == "ValueError: bad\nline"
    assert stored_error("ValueError: bad") == "ValueError: bad"
    for old in ("exited with code 3\nboom", "انتهى برمز الخروج 3", '{"m": broken', ""):
        assert render_in("ar", old) == old
        assert split_error(old) == (None, None)
    odd = '{"m":"exited with code {code}","p":{"code":3},"d":7}'  # a detail that is not text
    assert render_message(odd) == odd and split_error(odd) == (None, None)


def test_the_detail_is_bounded_keeping_its_end() -> None:
    detail = "".join(f"line {n}\n" for n in range(5000)) + "the last words"
    stored = stored_error(EXITED, detail)
    kept = json.loads(stored)["d"]
    assert len(kept) == DETAIL_MAX_CHARS
    assert kept.endswith("the last words") and kept.startswith("…")
    assert len(stored_error("plain", detail)) <= len("plain\n") + DETAIL_MAX_CHARS
    # An exception's text inside a message, or as the whole error, is bounded too: its start.
    huge = "x" * 50_000
    value = json.loads(stored_error(lazy("cannot load {ref}: {error}", ref="m:f", error=huge)))
    assert len(value["p"]["error"]) == PARAM_MAX_CHARS and value["p"]["ref"] == "m:f"
    assert len(stored_error(huge)) == DETAIL_MAX_CHARS and stored_error(huge).startswith("xxx")


def test_a_task_label_keeps_the_message_and_its_detail() -> None:
    stored = labelled("build", stored_error(EXITED, "out"))
    assert render_in("en", stored) == "build: exited with code 3\nout"
    assert render_in("ar", stored) == "build: انتهى برمز الخروج 3\nout"
    assert labelled("build", "plain") == "build: plain"


def test_reasons_group_by_message_whatever_the_detail_and_show_in_the_reader_language() -> None:
    one, two = stored_error(EXITED, "first run"), stored_error(EXITED, "second run")
    assert message_key(one) == message_key(two) == reason_of(one) == reason_of(two)
    assert reason_of(stored_error(lazy("exited with code {code}", code=4))) != reason_of(one)
    reason = reason_of(one)
    assert reason is not None
    assert render_in("ar", reason) == "انتهى برمز الخروج 3"
    assert shown_reason(reason) == "exited with code 3"
    assert reason_of("exited with code 3\nboom") == "exited with code 3"  # an older row


def test_a_task_failure_keeps_its_message_to_store() -> None:
    failure = TaskFailure(EXITED, detail="tail")
    assert failure.message == str(failure) == "exited with code 3"
    assert failure.lazy == EXITED
    plain = TaskFailure("custom text")
    assert plain.message == "custom text" and plain.lazy is None
