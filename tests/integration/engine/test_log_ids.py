"""Log records written while an attempt runs carry its run, task and attempt (structlog JSON)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from engine_funcs import RunFn

from basir.logconfig import configure_logging


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """Root logging through the JSON handler into a buffer; the old handlers back after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    buffer = io.StringIO()
    configure_logging("json", "INFO", buffer)
    yield buffer
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


async def test_a_task_body_logs_with_its_run_task_and_attempt(
    run_workflow: RunFn, json_logs: io.StringIO
) -> None:
    result = await run_workflow(
        {
            "name": "logs-ids",
            "tasks": [
                {"id": "first", "python": "engine_funcs:log_line", "args": ["from first"]},
                {
                    "id": "second",
                    "needs": ["first"],
                    "python": "engine_funcs:log_line",
                    "args": ["from second"],
                },
            ],
        }
    )
    assert result["status"] == "succeeded"
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    by_message = {line["event"]: line for line in lines if line["logger"] == "task.body"}
    assert set(by_message) == {"from first", "from second"}
    for task in ("first", "second"):
        line = by_message[f"from {task}"]
        assert line["run_id"] == result["run_id"]
        assert line["task_id"] == task
        assert line["attempt"] == 1
        assert line["level"] == "warning"
