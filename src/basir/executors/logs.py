"""Task logs: one append-only file per task, a header line per attempt, a size cap per attempt.

Over its cap an attempt's log keeps its head (the first `cap` bytes) and, when the attempt
ends, its end (the last `TAIL_KEEP_BYTES`), where the error usually is: between them a line
says how many bytes were left out.

Every executor writes through here so that the log endpoint sees one format.  Files are opened
only when there is something to write, so a python task that logs nothing costs no file I/O.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import BinaryIO

from basir.executors.base import TaskContext

TRUNCATED_MARKER = b"\n[output truncated]\n"
TAIL_LINES = 20
TAIL_KEEP_BYTES = 16 * 1024


def attempt_header(ctx: TaskContext) -> str:
    """The line that opens each attempt's part of the log."""
    return f"--- attempt {ctx.attempt} ({ctx.attempt_id}) ---\n"


def append_text(path: Path, text: str, *, header: str | None = None) -> None:
    """Append `text` (after an optional header) to the log at `path`, creating its folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8", errors="replace") as handle:
        if header:
            handle.write(header)
        handle.write(text if text.endswith("\n") or not text else text + "\n")


class CappedLog:
    """Streams one attempt's output into the log, stopping at `cap_bytes` with one marker.

    It also keeps the last few KiB of everything seen (written or not), so a failure message
    can quote the end of the output, and `close` writes them after the marker.  Write errors
    (a full disk) stop writing, never the task.
    """

    def __init__(self, path: Path, cap_bytes: int, header: str) -> None:
        self.path = path
        self.cap_bytes = cap_bytes
        self.written = 0
        self.seen = 0  # every byte of output, written or not
        self.truncated = False
        self._tail: deque[bytes] = deque()
        self._tail_bytes = 0
        self._handle: BinaryIO | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = path.open("ab")
            self._handle.write(header.encode())
            self._handle.flush()
        except OSError:
            self._handle = None

    def write(self, chunk: bytes) -> None:
        """Record one chunk of output: into the file up to the cap, always into the tail."""
        self._keep_tail(chunk)
        self.seen += len(chunk)
        if self._handle is None or self.truncated:
            return
        room = self.cap_bytes - self.written
        part = chunk if len(chunk) <= room else chunk[:room]
        try:
            self._handle.write(part)
            self.written += len(part)
            if len(part) < len(chunk):
                self.truncated = True
                self._handle.write(TRUNCATED_MARKER)
            self._handle.flush()
        except OSError:
            self.close()

    def _keep_tail(self, chunk: bytes) -> None:
        self._tail.append(chunk)
        self._tail_bytes += len(chunk)
        while self._tail_bytes - len(self._tail[0]) >= TAIL_KEEP_BYTES:
            self._tail_bytes -= len(self._tail.popleft())

    def tail(self, lines: int = TAIL_LINES) -> str:
        """The last `lines` lines of output, decoded leniently."""
        text = b"".join(self._tail)[-TAIL_KEEP_BYTES:].decode("utf-8", errors="replace")
        return "\n".join(text.rstrip("\n").splitlines()[-lines:])

    def close(self) -> None:
        """Write the end of a truncated output after its marker, then close the file; later
        writes only feed the tail."""
        if self._handle is None:
            return
        try:
            if self.truncated:
                self._write_end(self._handle)
        except OSError:
            pass  # a full disk: the head and the marker are what the log keeps
        finally:
            self._handle.close()
            self._handle = None

    def _write_end(self, handle: BinaryIO) -> None:
        unwritten = self.seen - self.written
        end = b"".join(self._tail)[-min(TAIL_KEEP_BYTES, unwritten) :]
        if len(end) < unwritten:
            handle.write(f"[{unwritten - len(end)} bytes left out; the end follows]\n".encode())
        handle.write(end if end.endswith(b"\n") else end + b"\n")
