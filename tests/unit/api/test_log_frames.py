"""A task's log cut into SSE events of whole lines, resumable at the byte offset in each id."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from basir.api.log_frames import MAX_PARTIAL_BYTES, LineFramer, end_frame, log_frame


def parse(stream: bytes) -> list[tuple[str, str, str]]:
    """(id, event, data) of each SSE event, as a browser's EventSource would see them."""
    found = []
    for block in stream.decode().split("\n\n"):
        if not block:
            continue
        fields: dict[str, list[str]] = {}
        for line in block.split("\n"):
            name, _, value = line.partition(": ")
            fields.setdefault(name, []).append(value)
        found.append((fields["id"][0], fields["event"][0], "\n".join(fields["data"])))
    return found


def test_whole_lines_go_out_and_a_partial_line_waits_for_its_end() -> None:
    framer = LineFramer(offset=100)
    assert framer.feed(b"hel") == b""
    first = framer.feed(b"lo\nwor")
    assert parse(first) == [("106", "log", "hello")]
    second = framer.feed(b"ld\nbye\n")
    assert parse(second) == [("116", "log", "world\nbye")]
    assert framer.flush() == b""
    assert framer.offset == 116


def test_the_last_line_without_a_newline_is_flushed_at_the_end() -> None:
    framer = LineFramer(offset=0)
    framer.feed(b"a\nb")
    assert parse(framer.flush()) == [("3", "log", "b")]
    assert parse(end_frame("succeeded", 3)) == [
        ("3", "end", '{"status": "succeeded", "offset": 3}')
    ]


def test_carriage_returns_cannot_break_the_stream_and_long_lines_go_in_pieces() -> None:
    assert parse(log_frame(b"50%\r100%", 8)) == [("8", "log", "50%\n100%")]
    framer = LineFramer(offset=0)
    long = b"x" * MAX_PARTIAL_BYTES
    assert parse(framer.feed(long)) == [(str(MAX_PARTIAL_BYTES), "log", "x" * MAX_PARTIAL_BYTES)]


@given(st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"")), max_size=20))
def test_resuming_at_any_event_id_loses_and_repeats_nothing(chunks: list[bytes]) -> None:
    log = b"".join(chunks)
    framer = LineFramer(offset=0)
    events = parse(b"".join(framer.feed(c) for c in chunks) + framer.flush())
    # Every id is a byte position: the log from there on is exactly what the later events hold.
    for index, (event_id, _, _) in enumerate(events):
        later = "\n".join(data for _, _, data in events[index + 1 :])
        rest = log[int(event_id) :].decode("utf-8", errors="replace").removesuffix("\n")
        assert later == rest
    assert not events or int(events[-1][0]) == len(log)
