"""Structured logs: JSON lines with ids for machines, console lines for people."""

from __future__ import annotations

import io
import json
import logging
import os
import re
from collections.abc import Iterator

import pytest

from basir.log_context import enter_attempt, leave_attempt
from basir.logconfig import configure_logging, renders_json, worker_id


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def records(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


@pytest.mark.usefixtures("restore_root")
def test_json_lines_carry_time_level_logger_worker_and_extra_ids() -> None:
    buffer = io.StringIO()
    configure_logging("json", "INFO", buffer)
    logging.getLogger("basir.test").warning("stored %d rows", 3, extra={"run_id": "r1"})
    logging.getLogger("basir.test").debug("hidden below INFO")
    [line] = records(buffer)
    assert line["event"] == "stored 3 rows"
    assert line["level"] == "warning"
    assert line["logger"] == "basir.test"
    assert line["run_id"] == "r1"
    assert line["worker_id"] == worker_id() and str(os.getpid()) in str(line["worker_id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", str(line["timestamp"]))


@pytest.mark.usefixtures("restore_root")
def test_the_attempt_being_run_is_added_and_removed_after() -> None:
    buffer = io.StringIO()
    configure_logging("json", "INFO", buffer)
    log = logging.getLogger("basir.test")
    token = enter_attempt("run-1", "build", 2)
    log.info("inside")
    leave_attempt(token)
    log.info("outside")
    inside, outside = records(buffer)
    assert (inside["run_id"], inside["task_id"], inside["attempt"]) == ("run-1", "build", 2)
    assert "run_id" not in outside and "task_id" not in outside


@pytest.mark.usefixtures("restore_root")
def test_exceptions_are_one_json_line_with_the_traceback_and_arabic_stays_readable() -> None:
    buffer = io.StringIO()
    configure_logging("json", "INFO", buffer)
    try:
        raise ValueError("قيمة غير صالحة")
    except ValueError:
        logging.getLogger("basir.test").exception("failed")
    assert len(buffer.getvalue().splitlines()) == 1
    [line] = records(buffer)
    assert "Traceback" in str(line["exception"]) and "ValueError" in str(line["exception"])
    assert "قيمة غير صالحة" in buffer.getvalue()


@pytest.mark.usefixtures("restore_root")
def test_console_lines_for_people_and_configuring_twice_does_not_double_lines() -> None:
    buffer = io.StringIO()
    configure_logging("console", "INFO", buffer)
    configure_logging("console", "INFO", buffer)
    logging.getLogger("basir.test").warning("plain words")
    [text] = buffer.getvalue().splitlines()
    assert "plain words" in text and "warning" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_auto_is_json_off_a_terminal_and_console_on_one() -> None:
    assert renders_json("auto", io.StringIO())
    assert not renders_json("auto", Terminal())
    assert renders_json("json", Terminal())
    assert not renders_json("console", io.StringIO())
