"""A task's log as Server-Sent Events: whole lines, each event's id the byte offset after it.

The id is where the log stands, so a client that reconnects with `Last-Event-ID` resumes at
that byte without a line lost or repeated.  Pure: bytes in, frames out.
"""

from __future__ import annotations

import json

MAX_PARTIAL_BYTES = 64 * 1024  # a "line" longer than this goes out in pieces


def _data_lines(text: str) -> str:
    # SSE ends a line at CR, LF or CRLF: a lone CR inside a log line would split it anyway.
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "".join(f"data: {line}\n" for line in lines)


def log_frame(lines: bytes, offset: int) -> bytes:
    """One `log` event holding `lines` (no trailing newline), its id the offset after them."""
    text = lines.decode("utf-8", errors="replace")
    return f"id: {offset}\nevent: log\n{_data_lines(text)}\n".encode()


def end_frame(status: str, offset: int) -> bytes:
    """The `end` event: the task reached `status`, the log ends at `offset`."""
    data = json.dumps({"status": status, "offset": offset})
    return f"id: {offset}\nevent: end\ndata: {data}\n\n".encode()


class LineFramer:
    """Cuts a growing log into `log` events of whole lines, keeping a partial last line back."""

    def __init__(self, offset: int) -> None:
        self.offset = offset  # the file position after the last line sent
        self._partial = b""

    def feed(self, chunk: bytes) -> bytes:
        """The frames for the whole lines completed by `chunk` (empty when none is)."""
        data = self._partial + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            if len(data) < MAX_PARTIAL_BYTES:
                self._partial = data
                return b""
            cut = len(data)  # no newline in sight: send what there is as a line
            lines, self._partial = data, b""
            self.offset += cut
            return log_frame(lines, self.offset)
        lines, self._partial = data[:cut], data[cut + 1 :]
        self.offset += cut + 1
        return log_frame(lines, self.offset)

    def flush(self) -> bytes:
        """The last line when the log has ended without a newline (empty when there is none)."""
        if not self._partial:
            return b""
        lines, self._partial = self._partial, b""
        self.offset += len(lines)
        return log_frame(lines, self.offset)
