"""Task log files: headers, the per-attempt cap, the tail kept for failure messages."""

from __future__ import annotations

from pathlib import Path

from basir.executors.logs import TRUNCATED_MARKER, CappedLog, append_text


def test_capped_log_writes_header_and_chunks(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "t.log"
    log = CappedLog(path, 100, "--- attempt 1 (a) ---\n")
    log.write(b"hello\n")
    log.close()
    assert path.read_bytes() == b"--- attempt 1 (a) ---\nhello\n"


def test_capped_log_truncates_once(tmp_path: Path) -> None:
    path = tmp_path / "t.log"
    log = CappedLog(path, 10, "H\n")
    for _ in range(5):
        log.write(b"abcdefgh")
    log.close()
    data = path.read_bytes()
    # The head up to the cap, the marker, then the rest (short here: nothing left out).
    assert data == b"H\n" + b"abcdefghab" + TRUNCATED_MARKER + b"cdefgh" + b"abcdefgh" * 3 + b"\n"
    assert log.truncated


def test_a_long_truncated_output_keeps_its_head_and_its_end(tmp_path: Path) -> None:
    path = tmp_path / "t.log"
    log = CappedLog(path, 10, "H\n")
    for number in range(10_000):
        log.write(f"line {number}\n".encode())
    log.close()
    data = path.read_bytes()
    head, _marker, rest = data.partition(TRUNCATED_MARKER)
    assert head == b"H\nline 0\nlin"
    note, _sep, end = rest.partition(b"\n")
    left_out = log.seen - log.written - len(end)
    assert note == f"[{left_out} bytes left out; the end follows]".encode()
    assert len(end) == 16 * 1024 and end.endswith(b"line 9999\n")


def test_tail_keeps_last_lines_even_after_truncation(tmp_path: Path) -> None:
    log = CappedLog(tmp_path / "t.log", 5, "")
    for number in range(100):
        log.write(f"line {number}\n".encode())
    log.close()
    tail = log.tail(3)
    assert tail == "line 97\nline 98\nline 99"


def test_tail_of_long_output_is_bounded(tmp_path: Path) -> None:
    log = CappedLog(tmp_path / "t.log", 5, "")
    for _ in range(100):
        log.write(b"x" * 10_000)
    assert len(log.tail()) <= 16 * 1024


def test_unwritable_log_does_not_raise(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    log = CappedLog(blocker / "t.log", 100, "H\n")  # parent is a file: cannot open
    log.write(b"still kept\n")
    log.close()
    assert log.tail() == "still kept"


def test_append_text_adds_newline_and_header(tmp_path: Path) -> None:
    path = tmp_path / "a" / "t.log"
    append_text(path, "one", header="H\n")
    append_text(path, "two\n")
    assert path.read_text() == "H\none\ntwo\n"
