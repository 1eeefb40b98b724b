"""Deferred messages: encoded once where decided, shown in the reader's language where read."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from basir.i18n import defer, lazy, render_message, use_locale
from basir.i18n.deferred import Lazy, decode, render_in
from basir.i18n.maintenance import extract

BUSY = "waiting for {pool}: {used}/{total} in use by run {run} task {task}"
QUEUE = "waiting for queue {queue}: {used}/{total} in use by {holders}"


def test_a_message_is_compact_json_and_renders_in_each_locale() -> None:
    stored = defer(BUSY, pool="cpu", used="2", total="2", run="r1", task="build")
    assert json.loads(stored) == {
        "m": BUSY,
        "p": {"pool": "cpu", "used": "2", "total": "2", "run": "r1", "task": "build"},
    }
    assert stored.startswith('{"m":"waiting for {pool}') and ", " not in stored  # compact
    assert render_message(stored) == "waiting for cpu: 2/2 in use by run r1 task build"
    with use_locale("ar"):
        assert render_message(stored) == (
            "في انتظار cpu: 2/2 قيد الاستخدام لدى التشغيل r1 المهمة build"
        )
    assert render_in("ar", stored).startswith("في انتظار cpu")
    assert render_message(stored) == render_in("en", stored)  # the locale is restored


def test_the_encoding_does_not_depend_on_the_locale_it_is_decided_in() -> None:
    english = defer(
        QUEUE,
        queue="builds",
        used=1,
        total=1,
        holders=lazy("run {run} task {task}", run="r", task="a"),
    )
    with use_locale("ar"):
        arabic = defer(
            QUEUE,
            queue="builds",
            used=1,
            total=1,
            holders=lazy("run {run} task {task}", run="r", task="a"),
        )
    assert english == arabic  # the engine compares reasons as strings: equal decisions, equal text


def test_nested_messages_render_in_the_same_locale() -> None:
    holders = lazy("run {run} task {task} and {more} more", run="r", task="t0", more=2)
    stored = defer(QUEUE, queue="builds", used=3, total=3, holders=holders)
    assert json.loads(stored)["p"]["holders"] == {
        "m": "run {run} task {task} and {more} more",
        "p": {"run": "r", "task": "t0", "more": 2},
    }
    assert decode(stored) == Lazy(
        QUEUE, {"queue": "builds", "used": 3, "total": 3, "holders": holders}
    )
    assert render_message(stored) == (
        "waiting for queue builds: 3/3 in use by run r task t0 and 2 more"
    )
    with use_locale("ar"):
        shown = render_message(stored)
    assert shown.startswith("في انتظار الطابور builds: 3/3")
    assert "and 2 more" not in shown and "run r" not in shown
    word = defer("waiting for {pool}: {amount} reserved for {kind} {holder} until {until}",
                 pool="gradle", amount="1", kind=lazy("namespace"), holder="release",
                 until="1970-01-01T00:03:20Z")  # fmt: skip
    assert json.loads(word)["p"]["kind"] == {"m": "namespace"}
    assert "namespace release" in render_message(word)
    with use_locale("ar"):
        assert "namespace" not in render_message(word)


@pytest.mark.parametrize(
    "text",
    [
        "waiting for gradle: 1/1 in use by run r0 task build",  # written before deferral
        "",
        '{ "m":"spaced"}',  # not the prefix defer writes
        '{"m":"broken',  # not JSON
        '{"m":1}',  # not a message
        '{"m":"x","p":[1]}',
        '{"m":"x","p":{"a":[1]}}',
        '{"m":"x","p":{"a":{"z":1}}}',
        '{"m":"x","extra":1}',
    ],
)
def test_plain_or_malformed_text_is_shown_as_it_is(text: str) -> None:
    assert decode(text) is None
    assert render_message(text) == text
    with use_locale("ar"):
        assert render_message(text) == text


def test_none_stays_none_and_a_message_without_values_is_not_formatted() -> None:
    assert render_message(None) is None
    assert defer("no {braces} filled") == '{"m":"no {braces} filled"}'
    assert render_message(defer("no {braces} filled")) == "no {braces} filled"


def test_a_message_whose_placeholders_changed_still_shows() -> None:
    stored = json.dumps({"m": "waiting for {pool} and {gone}", "p": {"pool": "cpu"}})
    assert render_message(stored) == "waiting for cpu and {gone}"
    assert str(decode(stored)) == "waiting for cpu and {gone}"


def test_defer_and_lazy_are_extracted_like_gettext(tmp_path: Path) -> None:
    package = tmp_path / "src" / "basir"
    package.mkdir(parents=True)
    source = 'from basir.i18n import defer, lazy\nx = defer("deferred {a}", a=lazy("nested"))\n'
    (package / "m.py").write_text(source, encoding="utf-8")
    mapping = tmp_path / "babel.cfg"
    mapping.write_text("[python: src/basir/**.py]\n", encoding="utf-8")
    ids = {message.id for message in extract(tmp_path, mapping) if message.id}
    assert ids == {"deferred {a}", "nested"}


def test_no_waiting_reason_is_translated_where_it_is_decided() -> None:
    """A reason rendered with `_()` would be stored in one language: they must be deferred."""
    root = Path(__file__).resolve().parents[3] / "src" / "basir"
    pattern = re.compile(r"\b_\(\s*\"(waiting for|rate limited on)")
    found = [
        f"{path.relative_to(root)}: {match.group(0)}"
        for path in sorted(root.rglob("*.py"))
        for match in pattern.finditer(path.read_text(encoding="utf-8"))
    ]
    assert found == []
