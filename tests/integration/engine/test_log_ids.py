"""Log records written while an attempt runs carry its run, task and attempt (structlog JSON)."""

from __future__ import annotations

import io
import json

from engine_funcs import RunFn


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
