"""Bad `on.schedule` entries through the real `basir` executable: located, localised, exit 2.

Each case is a field that was accepted with an unclear message or accepted and ignored.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import Cli, write

ENTRY = """\
name: nightly
on:
  schedule:
    - {entry}
tasks:
  - {{id: a, uses: noop}}
"""


def _arabic(text: str) -> bool:
    return any("\u0600" <= ch <= "\u06ff" for ch in text)


@pytest.mark.parametrize(
    ("entry", "field", "message"),
    [
        (
            '{cron: "0 2 * * *", start: notadate}',
            "on.schedule[0].start",
            "must be a date and time (ISO 8601) or a Unix timestamp, got notadate",
        ),
        (
            '{cron: "0 2 * * *", catchup_limit: 3}',
            "on.schedule[0].catchup_limit",
            "catchup_limit caps catchup: all; set catchup: all or remove catchup_limit",
        ),
        (
            '{cron: "0 2 * * *", catchup: none, catchup_limit: 3}',
            "on.schedule[0].catchup_limit",
            "catchup_limit caps catchup: all; set catchup: all or remove catchup_limit",
        ),
        (
            # A fire would come due after the next one, which the clock then counts as missed.
            '{cron: "* * * * * *", jitter: 3s}',
            "on.schedule[0].jitter",
            "jitter 3s is longer than the 1s between two fires of cron * * * * * *:"
            " use a jitter of at most 1s",
        ),
        (
            '{cron: "0 9 * * 1-5", timezone: Asia/Riyadh, jitter: 36h}',
            "on.schedule[0].jitter",
            "jitter 36h is longer than the 1d between two fires of cron 0 9 * * 1-5:"
            " use a jitter of at most 1d",
        ),
    ],
)
def test_a_bad_schedule_entry_is_refused_where_it_is(
    cli: Cli, tmp_path: Path, entry: str, field: str, message: str
) -> None:
    path = write(tmp_path / "nightly.yaml", ENTRY.format(entry=entry))
    done = cli("validate", str(path))
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert line == f"{path}:4:{line.split(':')[2]}: {field}: {message}"
    arabic = cli("--lang", "ar", "validate", str(path))
    assert arabic.returncode == 2
    [arabic_line] = arabic.stderr.splitlines()
    assert field in arabic_line and _arabic(arabic_line.split(field, 1)[1]), arabic_line
    # Refused when applied too, and nothing is stored.
    assert cli("workflows", "apply", str(path)).returncode == 2
    listed = cli("schedules", "list", "--json")
    assert listed.returncode == 0 and '"items": []' in listed.stdout


@pytest.mark.parametrize(
    "entry",
    [
        '{cron: "0 2 * * *", catchup: all, catchup_limit: 3, start: 2026-01-01T00:00}',
        '{cron: "* * * * * *", jitter: 1s}',  # as long as the gap: still before the next fire
        '{cron: "0 9 * * 1-5", jitter: 1d}',
    ],
)
def test_the_same_fields_within_their_limits_are_accepted(
    cli: Cli, tmp_path: Path, entry: str
) -> None:
    path = write(tmp_path / "nightly.yaml", ENTRY.format(entry=entry))
    done = cli("validate", str(path))
    assert done.returncode == 0, done.stderr


EVERY_SECOND = """\
name: tick
on:
  schedule: [{cron: "* * * * * *", timezone: Asia/Riyadh}]
tasks:
  - {id: a, uses: noop}
"""


def test_a_backfill_larger_than_a_request_is_refused_not_cut(cli: Cli, tmp_path: Path) -> None:
    assert cli("workflows", "apply", str(write(tmp_path / "t.yaml", EVERY_SECOND))).returncode == 0
    window = ("--from", "2026-01-01T00:00:00", "--to", "2026-01-01T01:00:00")
    refused = cli("schedules", "backfill", "tick", *window, "--json")
    assert refused.returncode == 2
    assert refused.stdout == ""
    assert refused.stderr.strip() == (
        "error: the window from 2026-01-01T00:00:00 to 2026-01-01T01:00:00 holds more than"
        " 1000 fires of tick:0: ask for a shorter one (the first 1000 end at"
        " 2026-01-01T00:16:39+03:00)"
    )
    arabic = cli("--lang", "ar", "schedules", "backfill", "tick", *window)
    assert arabic.returncode == 2 and _arabic(arabic.stderr), arabic.stderr
    # Nothing was stored: the window's first 1000 fires are asked for on their own.
    first = ("--from", "2026-01-01T00:00:00", "--to", "2026-01-01T00:16:39")
    asked = cli("schedules", "backfill", "tick", *first, "--json")
    assert asked.returncode == 0, asked.stderr
    assert '"fires": 1000' in asked.stdout
