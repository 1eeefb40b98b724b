"""A served workflow that fails after a retry leaves JSON log lines carrying its ids."""

from __future__ import annotations

import io
import json

from monitoring_helpers import Served

from basir.logconfig import worker_id

FLAKY_YAML = """\
name: flaky
tasks:
  - id: boom
    run: "exit 3"
    retries: {max: 1, delay: 10ms}
"""


async def test_run_and_attempt_lines_carry_run_task_attempt_and_worker_ids(
    served: Served, json_logs: io.StringIO
) -> None:
    """The server logged nothing about runs: no line with a run id was ever written."""
    async with served.app.router.lifespan_context(served.app):
        run = await served.run(FLAKY_YAML)
    assert run["status"] == "failed"
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    ours = [line for line in lines if line.get("run_id") == run["run_id"]]
    by_type = {line["event_type"]: line for line in ours}
    assert {"run.started", "task.retrying", "task.failed", "run.failed"} <= set(by_type)
    failed = by_type["task.failed"]
    assert failed["level"] == "warning" and failed["logger"] == "basir.events"
    assert (failed["task_id"], failed["attempt"], failed["workflow"]) == ("boom", 2, "flaky")
    assert by_type["task.retrying"]["attempt"] == 1
    assert "exited with code 3" in by_type["task.retrying"]["event"]
    assert all(line["worker_id"] == worker_id() for line in ours)
