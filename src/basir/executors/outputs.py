"""Parsing the `$BASIR_OUTPUT` file a shell task appends its outputs to.

The format is GitHub Actions' `$GITHUB_OUTPUT`: `key=value` lines, and for values that span
lines a heredoc, `key<<DELIM`, the value's lines, then `DELIM` alone on a line.  A later line
for the same key wins.  Empty lines are ignored.  Anything else is an error naming the line,
so a typo never silently loses an output.
"""

from __future__ import annotations

import re
from pathlib import Path

from basir.i18n import _

OUTPUT_KEY_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")


class OutputsError(ValueError):
    """The outputs file is malformed or too large; the message is for the user."""


def parse_outputs(text: str) -> dict[str, str]:
    """Parse the text of an outputs file into a `{key: value}` dict."""
    outputs: dict[str, str] = {}
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line.strip():
            continue
        equals, heredoc = line.find("="), line.find("<<")
        if heredoc > 0 and (equals < 0 or heredoc < equals):
            key, delimiter = line[:heredoc], line[heredoc + 2 :]
            _check_key(key, index)
            if not delimiter.strip():
                raise OutputsError(
                    _("outputs line {line}: a heredoc needs a delimiter after <<", line=index)
                )
            end = _find_delimiter(lines, index, delimiter)
            if end < 0:
                raise OutputsError(
                    _(
                        "outputs line {line}: no closing {delimiter} for {key}",
                        line=index,
                        delimiter=delimiter,
                        key=key,
                    )
                )
            outputs[key] = "\n".join(lines[index:end])
            index = end + 1
        elif equals > 0:
            key = line[:equals]
            _check_key(key, index)
            outputs[key] = line[equals + 1 :]
        else:
            raise OutputsError(
                _("outputs line {line}: expected key=value or key<<DELIMITER", line=index)
            )
    return outputs


def _find_delimiter(lines: list[str], start: int, delimiter: str) -> int:
    for position in range(start, len(lines)):
        if lines[position] == delimiter:
            return position
    return -1


def _check_key(key: str, line: int) -> None:
    if not OUTPUT_KEY_PATTERN.fullmatch(key):
        raise OutputsError(
            _(
                "outputs line {line}: bad output name {key!r}; use letters, digits, _ or -, "
                "starting with a letter or _, at most 64 characters",
                line=line,
                key=key[:80],
            )
        )


def read_outputs(path: Path, cap_bytes: int) -> dict[str, str]:
    """Read and parse the outputs file; a missing file means no outputs."""
    try:
        with path.open("rb") as handle:
            data = handle.read(cap_bytes + 1)
    except FileNotFoundError:
        return {}
    if len(data) > cap_bytes:
        raise OutputsError(_("outputs are larger than the limit of {limit} bytes", limit=cap_bytes))
    return parse_outputs(data.decode("utf-8", errors="replace"))
